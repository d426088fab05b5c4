"""The Fava page's view model: what one rendering of the page shows.

Contract: :func:`build_rows` merges Ponto's live account list (when it could
be read), the saved state (what the last runs saw) and the account links into
one :class:`AccountRow` per Ponto account; nothing here does I/O. Ledger
balances come from a :class:`~fava_ponto.ledger_index.LedgerIndex` at the
end of the bank balance's reference day (in the bank's time zone, as the sync's
balance assertions use), so a row's ``difference`` is exactly what would stop
a balance assertion. All text stays plain: escaping is the template's job
(Jinja autoescape) and the script's (``textContent``). No field ever holds a
secret.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from beancount_ponto.config import account_zone
from beancount_ponto.consent import RENEW_URL, ConsentStatus, consent_status
from beancount_ponto.convert import local_date
from beancount_ponto.i18n import _
from beancount_ponto.refresh import SYNC_COOLDOWN
from beancount_ponto.status import account_facts
from beancount_ponto.status import is_stale as ponto_is_stale
from beancount_ponto.timeutil import local_zone, to_iso
from fava_ponto.review import ReviewList

if TYPE_CHECKING:
    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.pending import AccountPending
    from beancount_ponto.ponto.models import Account, FinancialInstitution
    from beancount_ponto.state import SyncState
    from beancount_ponto.state_runs import RunLine
    from beancount_ponto.state_schema import AccountState, DeepCheck
    from fava_ponto.ledger_index import LedgerIndex, LedgerTxn

RUNS_SHOWN = 8
_REQUEST_ID = re.compile(r"\s*\(request id [^)]*\)")


def problem_key(message: str) -> str:
    """What makes two messages the same problem: the text without Ponto's request ids."""
    return _REQUEST_ID.sub("", message).strip()


@dataclass(frozen=True)
class AccountRow:
    """One Ponto account as the page shows it."""

    ponto_id: str
    reference: str
    description: str
    currency: str
    bank: str
    balance: Decimal | None
    balance_date: dt.date | None
    ledger_balance: Decimal | None
    difference: Decimal | None
    consent: ConsentStatus
    ponto_synchronized_at: dt.datetime | None
    last_fetch: dt.datetime | None
    last_success: dt.datetime | None
    last_new: int | None
    failing_since: dt.datetime | None
    last_error: str | None
    balance_note: str | None
    refresh_possible_at: dt.datetime | None
    linked: str | None
    choices: tuple[str, ...]
    live: bool
    deep_check: DeepCheck | None = None
    ponto_stale: bool = False

    @property
    def consent_text(self) -> str:
        """The consent in words, as ``bean-ponto status`` says it."""
        return self.consent.describe()

    @property
    def consent_date(self) -> dt.date | None:
        """The day the consent expires."""
        return self.consent.expires_day


@dataclass(frozen=True)
class RunView:
    """One past run (CLI, runner or Fava)."""

    at: dt.datetime | None
    source: str
    ok: bool
    lines: tuple[RunLine, ...]


@dataclass(frozen=True)
class CredentialsView:
    """What the page may say about the credentials: never the secret itself."""

    stored: bool
    client_id: str | None
    from_environment: bool
    works: bool | None
    path: str


@dataclass(frozen=True)
class PageView:
    """Everything one rendering of the page shows."""

    credentials: CredentialsView
    rows: tuple[AccountRow, ...]
    runs: tuple[RunView, ...]
    latest: tuple[LedgerTxn, ...]
    notices: tuple[str, ...]
    read_only: bool
    job: dict[str, Any] | None
    runner_failing_since: dt.datetime | None
    runner_error: str | None
    config_path: str
    output_path: str
    included: bool
    warning_days: int
    stale_minutes: int
    renew_url: str = RENEW_URL
    ponto_read: bool = True
    said: tuple[str, ...] = ()

    def mentioned(self, message: str | None) -> bool:
        """True if the page already says this problem (in a notice or the job's outcome)."""
        return message is not None and problem_key(message) in self.said

    #: each linked account's pending transactions and available balance
    pending: tuple[AccountPending, ...] = ()
    #: bean-ponto's entries waiting for review (learned guesses, placeholders)
    review: ReviewList = dataclasses.field(default_factory=ReviewList)

    @property
    def attention(self) -> tuple[AccountRow, ...]:
        """Rows whose consent needs attention (expiring, expected date passed, revoked)."""
        return tuple(r for r in self.rows if r.consent.needs_attention)

    @property
    def stale(self) -> tuple[AccountRow, ...]:
        """Rows Ponto last refreshed from the bank more than 24 hours ago."""
        return tuple(r for r in self.rows if r.ponto_stale)

    @staticmethod
    def when(value: dt.datetime | None, empty: str | None = None) -> str:
        """A timestamp in the local time zone, to the minute; ``empty`` (else "never") for None."""
        if value is None:
            return _("never") if empty is None else empty
        return value.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")

    @staticmethod
    def money(value: Decimal | None, currency: str | None = None) -> str:
        """A signed amount with thousands separators and at least two decimals, or an em dash.

        Fava's page uses the ledger's own formatting instead (``FavaPonto.money``).
        """
        if value is None:
            return "\u2014"
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent > -2:
            value = value.quantize(Decimal("0.01"))
        return f"{value:,}" + (f" {currency}" if currency else "")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO timestamps, amounts as strings)."""
        out: dict[str, Any] = _plain(asdict(self))
        out["rows"] = [
            _plain(asdict(r))
            | {
                "consent": {
                    "state": r.consent.state,
                    "expires_at": to_iso(r.consent.expires_at),
                    "days_left": r.consent.days_left,
                    "text": r.consent_text,
                }
            }
            for r in self.rows
        ]
        out["pending"] = [
            _plain(asdict(dataclasses.replace(p, items=())))
            | {"items": [i.to_json() for i in p.items]}
            for p in self.pending
        ]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return to_iso(value)
    if isinstance(value, (dt.date, Decimal)):
        return str(value) if isinstance(value, dt.date) else format(value, "f")
    return value


def _balance_zone(
    config: Config,
    link: AccountLink | None,
    bank: FinancialInstitution | None,
    record: AccountState,
) -> dt.tzinfo:
    """The zone of balance reference dates, chosen as the sync chooses it."""
    return account_zone(
        config, link, lambda: (bank.time_zone if bank else None) or record.bank_time_zone
    )


def build_rows(
    config: Config,
    state: SyncState,
    live: dict[str, Account] | None,
    *,
    banks: dict[str, FinancialInstitution],
    index: LedgerIndex,
    now: dt.datetime,
) -> list[AccountRow]:
    """One row per Ponto account: live ones in Ponto's order, then linked ones not shared now.

    Args:
        config: the configuration (links, zones, warning days).
        state: the saved state (what the last runs saw).
        live: Ponto's accounts now by id, or None when Ponto could not be read.
        banks: financial institutions by id.
        index: the ledger index of the current load.
        now: the current time.
    """
    ids = list(live or {})
    ids += [pid for pid in config.links if pid not in ids]
    taken = {link.account for link in config.links.values()}
    rows = []
    for pid in ids:
        link = config.links.get(pid)
        record = state.known(pid)
        account = (live or {}).get(pid)
        bank = banks.get(account.financial_institution_id or "") if account else None
        facts = account_facts(account, record, link)
        reference, currency, balance = facts.reference, facts.currency, facts.balance
        reference_ts = facts.balance_reference_date
        balance_date = (
            local_date(reference_ts, _balance_zone(config, link, bank, record))
            if reference_ts
            else None
        )
        ledger_balance = difference = None
        if link is not None and balance is not None and balance_date is not None:
            ledger_balance = index.balance(link.account, currency, balance_date)
            difference = balance - ledger_balance
        requested = record.sync_requested_at
        possible = requested + SYNC_COOLDOWN if requested else None
        own = link.account if link else None
        rows.append(
            AccountRow(
                ponto_id=pid,
                reference=reference,
                description=facts.description,
                currency=currency,
                bank=(bank.name if bank else None) or record.bank_name or "",
                balance=balance,
                balance_date=balance_date,
                ledger_balance=ledger_balance,
                difference=difference,
                consent=consent_status(
                    facts.consent_expires_at, now, config.consent_warning_days, facts.refusal
                ),
                ponto_synchronized_at=facts.synchronized_at,
                ponto_stale=ponto_is_stale(facts.synchronized_at, now),
                last_fetch=record.last_fetch,
                last_success=record.health.last_success,
                last_new=record.last_new,
                failing_since=record.health.failing_since,
                last_error=record.health.last_error,
                balance_note=record.balance_mismatch,
                refresh_possible_at=possible if possible and possible > now else None,
                linked=own,
                choices=tuple(a for a in index.choices(currency) if a == own or a not in taken),
                live=account is not None,
                deep_check=record.deep_check,
            )
        )
    return rows


def build_runs(state: SyncState) -> list[RunView]:
    """The last runs, newest first."""
    views = []
    for run in reversed(state.runs[-RUNS_SHOWN:]):
        lines = tuple(
            dataclasses.replace(line, account=line.account or pid)
            for pid, line in run.accounts.items()
        )
        views.append(RunView(at=run.at, source=run.source, ok=run.ok, lines=lines))
    return views


def is_stale(config: Config, state: SyncState, now: dt.datetime) -> bool:
    """True if a linked account was never fetched or not for ``fetch_stale_minutes``."""
    limit = now - dt.timedelta(minutes=config.fetch_stale_minutes)
    for pid in config.links:
        last = state.known(pid).last_fetch
        if last is None or last < limit:
            return True
    return False
