"""The Fava page's logic, independent of Fava and Flask.

:class:`PontoPage` is what the ``fava_ponto`` extension delegates to. Contract:

* **Settings** come parsed (:class:`~fava_ponto.forms.PageSettings`);
  their ``fetch_stale_minutes`` / ``consent_warning_days`` override the config
  file's for the page only and are never saved.
* **Ledger data.** :meth:`PontoPage.ledger_loaded` is called after every load
  with Fava's entries; the :class:`~fava_ponto.ledger_index.LedgerIndex` is
  built from them on first need, once per load, never by re-reading files.
* **Secrets.** Credentials are verified against Ponto before being stored (the
  same 0600 store as ``bean-ponto login``); no return value, view or message
  holds the secret.
* **Reads.** Rendering asks Ponto for its account list once (a kept client,
  so the token is reused; fast failure, then the saved state is shown) and
  starts a background fetch (no bank refresh) when the last fetch is older
  than ``fetch_stale_minutes``, unless Fava is read-only.
* **Writes.** Links go to the config file (atomically); transactions only
  through :func:`~beancount_ponto.sync.run_sync` in a background job (one at a
  time), after which ``notify(output)`` tells Fava to reload.
* **Input** problems raise :class:`~fava_ponto.forms.PageInputError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beancount_ponto import pending
from beancount_ponto.config import AccountLink, Config, load_config, save_config
from beancount_ponto.credentials import (
    Credentials,
    client_for,
    resolve_credentials,
    store_credentials,
    stored_credentials,
)
from beancount_ponto.errors import AuthError, ConfigError, CredentialsMissingError, PontoError
from beancount_ponto.i18n import _
from beancount_ponto.ledger_options import account_types, check_account
from beancount_ponto.linking import describe_link
from beancount_ponto.state import SyncState
from beancount_ponto.status import link_statuses
from beancount_ponto.timeutil import now_utc
from fava_ponto.forms import PageInputError, PageSettings, cross_site_error, text_field
from fava_ponto.jobs import JobRunner, sync_work
from fava_ponto.ledger_index import LedgerIndex
from fava_ponto.review import ReviewList, to_review
from fava_ponto.view import (
    AccountRow,
    CredentialsView,
    PageView,
    build_rows,
    build_runs,
    is_stale,
    problem_key,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterable, Mapping

    from beancount_ponto.pending import AccountPending
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Account, FinancialInstitution

__all__ = ["PageInputError", "PageSettings", "PontoPage", "cross_site_error"]


def _failing(rows: Iterable[AccountRow]) -> dict[str, list[str]]:
    """The accounts failing now, grouped by problem (request ids aside)."""
    out: dict[str, list[str]] = {}
    for row in rows:
        if row.failing_since and row.last_error:
            out.setdefault(problem_key(row.last_error), []).append(row.linked or row.reference)
    return out


class PontoPage:
    """The Ponto page of one Fava ledger (see the module contract).

    Args:
        ledger_path: the main ledger file Fava serves.
        settings: the parsed extension settings.
        notify: called with a file bean-ponto wrote, so Fava reloads.
    """

    def __init__(
        self,
        ledger_path: Path,
        settings: PageSettings,
        notify: Callable[[Path], None] | None = None,
    ) -> None:
        self.ledger_path = ledger_path
        self.settings = settings
        self.jobs = JobRunner()
        self._notify = notify or (lambda _path: None)
        self._entries: Iterable[object] = ()
        self._roots: tuple[str, ...] = ("Assets", "Liabilities")
        self._index: LedgerIndex | None = None
        self._files: frozenset[Path] = frozenset()
        self._unseen_mtime: int | None = None
        self._lock = threading.Lock()  # the index, the loaded files
        self._client_lock = threading.Lock()  # the kept client (slow calls never block a load)
        self._client: PontoClient | None = None
        self._client_key: tuple[str, ...] = ()
        self._banks: dict[str, FinancialInstitution] = {}

    # -- ledger and config ----------------------------------------------------

    def ledger_loaded(
        self, entries: Iterable[object], roots: tuple[str, ...], files: Iterable[str]
    ) -> None:
        """Take a new load: its entries, root account names and files.

        The index of the previous load is dropped; the next request builds a new one.
        """
        with self._lock:
            self._entries, self._roots, self._index = entries, roots, None
            self._files = frozenset(Path(f).resolve() for f in files)

    def index(self) -> LedgerIndex:
        """The index of the current load, built on first need."""
        with self._lock:
            if self._index is None:
                self._index = LedgerIndex.build(self._entries, self._roots)
            return self._index

    def file_config(self) -> Config:
        """The config file as it is (what gets saved back)."""
        config = load_config(self.settings.config_path)
        return config if config.ledger else dataclasses.replace(config, ledger=self.ledger_path)

    def config(self) -> Config:
        """The config with the extension's overrides applied (never saved)."""
        config, s = self.file_config(), self.settings
        if s.fetch_stale_minutes is not None:
            config = dataclasses.replace(config, fetch_stale_minutes=s.fetch_stale_minutes)
        if s.consent_warning_days is not None:
            config = dataclasses.replace(config, consent_warning_days=s.consent_warning_days)
        return config

    def output_path(self, config: Config) -> Path:
        """The file the sync appends to."""
        return config.output_path(self.ledger_path)

    def own_files(self) -> frozenset[Path]:
        """bean-ponto's own files (resolved): config, output ledger, state, credentials.

        Fava's Import page must never move or delete these.
        """
        files = {self.settings.config_path.resolve()}
        try:
            config = self.config()
        except ConfigError:
            return frozenset(files)
        output = self.output_path(config)
        state = SyncState(output=output)
        files |= {output, state.state_path, state.ids_path, config.credentials_path()}
        return frozenset(p.resolve() for p in files)

    def unseen_output(self) -> Path | None:
        """The output file if another writer created it after Fava loaded (once per change).

        Fava watches only the files it loaded, so a ``ponto.beancount`` the CLI or
        the runner creates later goes unnoticed until the caller notifies Fava.
        """
        try:
            output = self.output_path(self.config())
        except ConfigError:
            return None
        try:
            mtime = output.stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            if output.resolve() in self._files or mtime == self._unseen_mtime:
                return None
            self._unseen_mtime = mtime
        return output

    # -- Ponto ------------------------------------------------------------------

    def _page_client(self, config: Config, creds: Credentials) -> PontoClient:
        """A client kept between requests (token reuse), failing fast for a page."""
        secret_hash = hashlib.sha256(creds.client_secret.encode()).hexdigest()
        key = (config.effective_api_url(), creds.client_id, secret_hash)
        if self._client is None or self._client_key != key:
            if self._client is not None:
                self._client.close()
            client = client_for(config, creds)
            client.timeout, client.max_attempts, client.max_retry_seconds = 8.0, 2, 4.0
            self._client, self._client_key = client, key
        return self._client

    def _live(
        self, config: Config
    ) -> tuple[dict[str, Account] | None, bool | None, tuple[str, str] | None]:
        """Ponto's accounts now, whether the credentials work, and a notice.

        The notice is ``(text for the page, the underlying problem)``.
        """
        try:
            creds = resolve_credentials(config)
        except CredentialsMissingError:
            return None, None, None
        except ConfigError as exc:
            return None, None, (str(exc), str(exc))
        with self._client_lock:
            try:
                client = self._page_client(config, creds)
                accounts = {a.id: a for a in client.accounts()}
                for fi_id in {a.financial_institution_id for a in accounts.values()} - {None}:
                    if fi_id and fi_id not in self._banks:
                        self._banks[fi_id] = client.financial_institution(fi_id)
            except AuthError as exc:
                text = _("Ponto refused the credentials (%(error)s); enter them again", error=exc)
                return None, False, (text, str(exc))
            except PontoError as exc:
                text = _(
                    "Ponto could not be read (%(error)s); showing what the last sync saw",
                    error=exc,
                )
                return None, None, (text, str(exc))
        return accounts, True, None

    # -- the page -----------------------------------------------------------------

    def view(
        self,
        *,
        read_only: bool,
        may_fetch: bool,
        now: dt.datetime | None = None,
        with_pending: bool = True,
    ) -> PageView:
        """Everything the page shows; may start a background fetch when stale.

        Args:
            read_only: Fava refuses changes (no fetch is started then).
            may_fetch: this request may start the fetch of a stale ledger.
            now: the current time (tests).
            with_pending: also ask Ponto for each linked account's pending
                transactions (one request per account).
        """
        now = now or now_utc()
        notices = (
            [_("Ponto page settings: %(problem)s", problem=self.settings.problem)]
            if self.settings.problem
            else []
        )
        try:
            config = self.config()
        except ConfigError as exc:
            config = Config(path=self.settings.config_path, ledger=self.ledger_path)
            notices.append(str(exc))
        output = self.output_path(config)
        try:
            state = SyncState.load(output)
        except PontoError as exc:
            state = SyncState(output=output)
            notices.append(str(exc))
        live, works, notice = self._live(config)
        waiting = self._pending(config, live) if with_pending else ()
        if (
            may_fetch
            and not read_only
            and live is not None
            and self.settings.auto_fetch
            and is_stale(config, state, now)
        ):
            self._start(config, refresh=False, customer_ip="127.0.0.1")
        runner = state.runner.health
        rows = tuple(
            build_rows(config, state, live, banks=self._banks, index=self.index(), now=now)
        )
        job = self.jobs.snapshot()
        # Each problem is said once: the finished job's outcome says its own.
        said: dict[str, str] = {}
        if job and job["state"] == "failed":
            said |= {problem_key(str(a["error"])): "" for a in job["accounts"] if a["error"]}
            said[problem_key(str(job["error"]))] = ""
        for text in notices:
            said.setdefault(problem_key(text), text)
        if notice:
            said.setdefault(problem_key(notice[1]), notice[0])
        for error, names in _failing(rows).items():
            said.setdefault(
                error,
                _(
                    "%(accounts)s: the sync is failing: %(error)s",
                    accounts=", ".join(names),
                    error=error,
                ),
            )
        if runner.failing_since:
            said.setdefault(
                problem_key(str(runner.last_error)),
                _(
                    "The scheduled sync (bean-ponto run) is failing since %(when)s: %(error)s",
                    when=PageView.when(runner.failing_since),
                    error=runner.last_error,
                ),
            )
        return PageView(
            credentials=self._credentials_view(config, works),
            rows=rows,
            runs=tuple(build_runs(state)),
            latest=tuple(self.index().latest),
            notices=tuple(text for text in said.values() if text),
            read_only=read_only,
            job=job,
            runner_failing_since=runner.failing_since,
            runner_error=runner.last_error,
            config_path=str(config.path),
            output_path=str(output),
            included=not output.exists() or output.resolve() in self._files,
            warning_days=config.consent_warning_days,
            stale_minutes=config.fetch_stale_minutes,
            ponto_read=live is not None,
            said=tuple(said),
            pending=waiting,
            review=self.review(config),
        )

    def review(self, config: Config) -> ReviewList:
        """The loaded entries waiting for review (guesses, placeholders), newest first."""
        with self._lock:
            entries = self._entries
        placeholders = frozenset({config.counter_account, config.income_account})
        return to_review(entries, placeholders, review_flag=config.review_flag)

    def _pending(
        self, config: Config, live: dict[str, Account] | None
    ) -> tuple[AccountPending, ...]:
        """Each linked account's pending transactions: one request per account."""
        if live is None or not config.links:
            return ()
        with self._client_lock:
            if self._client is None:
                return ()
            zone_of = pending.known_bank_zones(config, self._banks)
            return tuple(pending.collect(config, self._client, zone_of, accounts=live))

    def _credentials_view(self, config: Config, works: bool | None) -> CredentialsView:
        env = bool(os.environ.get("PONTO_CLIENT_ID") and os.environ.get("PONTO_CLIENT_SECRET"))
        try:
            stored = stored_credentials(config.credentials_path())
        except ConfigError:
            stored = None
        return CredentialsView(
            stored=stored is not None,
            client_id=os.environ.get("PONTO_CLIENT_ID")
            if env
            else (stored.client_id if stored else None),
            from_environment=env,
            works=works,
            path=str(config.credentials_path()),
        )

    def problems(self, now: dt.datetime | None = None) -> list[str]:
        """Consent and sync problems for Fava's error list (offline: saved state only)."""
        now = now or now_utc()
        out = [f"Ponto page settings: {self.settings.problem}"] if self.settings.problem else []
        try:
            config = self.config()
            state = SyncState.load(self.output_path(config))
        except PontoError as exc:
            return [*out, f"Ponto: {exc}"]
        failing: dict[str, list[str]] = {}
        since: dict[str, dt.datetime] = {}
        for s in link_statuses(config, state, None, now):
            name = f"{s.account} ({s.reference})" if s.reference else s.account
            out.extend(f"Ponto: {name}: {warning}" for warning in s.warnings(now))
            if s.failing_since:
                key = problem_key(str(s.last_error))
                failing.setdefault(key, []).append(name)
                since[key] = min(since.get(key, s.failing_since), s.failing_since)
        for key, names in failing.items():  # one error per problem, not per account
            day = f"{since[key]:%Y-%m-%d}"
            out.append(f"Ponto: {', '.join(names)}: sync failing since {day}: {key}")
        runner = state.runner.health
        error = problem_key(str(runner.last_error))
        if runner.failing_since and error not in failing:
            out.append(
                f"Ponto: the scheduled sync is failing since {runner.failing_since:%Y-%m-%d}: "
                f"{runner.last_error}"
            )
        return out

    # -- actions ------------------------------------------------------------------

    def save_credentials(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Verify the Client ID and Client Secret with Ponto, then store them (0600).

        Raises:
            PageInputError: a field is missing or invalid.
            BadCredentialsError: Ponto refused them (nothing is stored).
            PontoError: Ponto could not be asked (nothing is stored).
        """
        creds = Credentials(
            text_field(body, "client_id", "Client ID"),
            text_field(body, "client_secret", "Client Secret"),
        )
        config = self.config()
        client = client_for(config, creds)
        client.timeout, client.max_attempts, client.max_retry_seconds = 10.0, 2, 4.0
        try:
            client.authenticate()
        finally:
            client.close()
        store_credentials(config.credentials_path(), creds)
        message = _("Ponto accepted the credentials; they are stored, readable only by you.")
        if os.environ.get("PONTO_CLIENT_ID") and os.environ.get("PONTO_CLIENT_SECRET"):
            message += " " + _(
                "Note: PONTO_CLIENT_ID/PONTO_CLIENT_SECRET in Fava's environment win."
            )
        return {"client_id": creds.client_id, "stored": True, "works": True, "message": message}

    def link(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Link a Ponto account to an open ledger account; saves the config.

        Raises:
            PageInputError: unknown account, not open, or already linked elsewhere.
        """
        ponto_id = text_field(body, "ponto_id", "Ponto account")
        account = text_field(body, "account", "Ledger account")
        config = self.file_config()
        try:
            types = account_types(self.ledger_path)
            check_account(account, types, what="link", roots=(types.assets, types.liabilities))
        except ConfigError as exc:
            raise PageInputError(str(exc)) from None
        live, _works, notice = self._live(config)
        if live is None:
            raise PageInputError(
                notice[0] if notice else "enter your Client ID and Client Secret first"
            )
        shared = live.get(ponto_id)
        if shared is None:
            raise PageInputError(_("Ponto does not share this account with the integration"))
        allowed = self.index().choices(shared.currency)
        if account not in allowed:
            raise PageInputError(
                f"{account} is not an open Assets or Liabilities account of this ledger "
                f"that may hold {shared.currency}; open it in the ledger first"
            )
        other = config.link_for_account(account)
        if other is not None and other.ponto_id != ponto_id:
            raise PageInputError(f"{account} is already linked to {other.reference or 'another'}")
        old = config.links.get(ponto_id)
        new = AccountLink(ponto_id, account, shared.reference, shared.currency)
        if old is not None:
            new = dataclasses.replace(old, account=account, reference=shared.reference)
        save_config(config.with_links({**config.links, ponto_id: new}))
        return {
            "ponto_id": ponto_id,
            "account": account,
            "message": _(
                "Linked %(reference)s to %(account)s. Press Sync now to fetch it.",
                reference=shared.reference,
                account=account,
            ),
        }

    def unlink(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Remove a link; entries already in the ledger stay.

        Raises:
            PageInputError: the account is not linked.
        """
        ponto_id = text_field(body, "ponto_id", "Ponto account")
        config = self.file_config()
        link = config.links.get(ponto_id)
        if link is None:
            raise PageInputError(_("this Ponto account is not linked"))
        save_config(config.with_links({k: v for k, v in config.links.items() if k != ponto_id}))
        return {
            "ponto_id": ponto_id,
            "message": _("Unlinked %(link)s.", link=describe_link(link)),
        }

    def start_sync(self, customer_ip: str | None, *, refresh: bool = True) -> dict[str, Any]:
        """Start a sync (with a bank refresh when ``refresh``) unless one runs.

        Raises:
            PageInputError: no credentials, or nothing is linked.
        """
        config = self.config()
        try:
            resolve_credentials(config)
        except CredentialsMissingError:
            raise PageInputError("enter your Client ID and Client Secret first") from None
        if not config.links:
            raise PageInputError("link a Ponto account to a ledger account first")
        job, started = self._start(config, refresh=refresh, customer_ip=customer_ip or "127.0.0.1")
        return {"started": started, "job": job}

    def job(self) -> dict[str, Any] | None:
        """The current or last job."""
        return self.jobs.snapshot()

    def _start(self, config: Config, *, refresh: bool, customer_ip: str) -> tuple[Any, bool]:
        work = sync_work(
            config,
            ledger=self.ledger_path,
            output=self.output_path(config),
            refresh=refresh,
            customer_ip=customer_ip,
            notify=self._notify,
        )
        job, started = self.jobs.start("sync" if refresh else "fetch", work)
        return job.to_json(), started
