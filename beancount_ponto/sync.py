"""One sync run: fetch new Ponto transactions and append them to the ledger.

Shared by ``bean-ponto sync``, the scheduled runner and the Fava page.

Contract of :func:`run_sync`:

* The whole run holds the writer lock of the output file, so two writers
  (CLI, runner, Fava) never interleave; a second one waits up to
  ``lock_timeout`` seconds, then fails with :class:`LockTimeoutError`.
* Each linked account is handled on its own: an error (network, a consent
  Ponto refuses, Ponto error) is recorded for that account and the others go on.
* A consent whose expected expiry passed is still fetched (Ponto serves its
  data). One Ponto reports revoked or invalid (``latestSynchronization`` in
  error with ``authorizationInvalid``) is fetched too, and the account's
  result carries the ``refusal``: :attr:`SyncResult.needs_action` lists it and
  ``bean-ponto sync`` exits 1 naming the fix (reauthorize in Ponto's dashboard).
* A transaction is written only if its ``ponto_id`` is neither in the ledger
  (any included file) nor in the log of ids written before (so deleted
  entries stay deleted).
* New transactions are written oldest first, in batches, each batch through
  the crash-safe protocol of :mod:`beancount_ponto.state`; stopping between
  batches (SIGTERM) or crashing anywhere leaves a valid ledger and the next
  run completes the set exactly once.
* A balance assertion is added per account and Ponto reference date, only
  when the ledger's balance matches the bank's (checked by one full load of
  the ledger, at most once per new reference date), so the ledger keeps
  passing ``bean-check``.
* Ponto synchronizations are created only with ``refresh=True`` (the user
  is present), with their IP, at most once per 30 minutes per account.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from beancount_ponto import balance
from beancount_ponto.config import AccountLink, Config, account_zone
from beancount_ponto.consent import ConsentRefusal, current_refusal, refusal_from_error
from beancount_ponto.convert import (
    ConvertOptions,
    balance_to_entry,
    format_entries,
    transaction_to_entry,
)
from beancount_ponto.errors import ConfigError, ConsentExpiredError, LedgerError, PontoError
from beancount_ponto.fetch import WalkStats, entry_date, walk
from beancount_ponto.fileutil import spool_pairs
from beancount_ponto.ledger import (
    LedgerScan,
    append_text,
    create_output,
    ledger_files,
    scan_ledger,
    state_dir,
    writer_lock,
)
from beancount_ponto.refresh import refresh
from beancount_ponto.results import AccountResult, SyncOptions, SyncResult
from beancount_ponto.state import SyncState, now_utc, to_iso
from beancount_ponto.status import REFUSAL_KEY, record_outcome

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator
    from pathlib import Path

    from beancount.core.data import Balance

    from beancount_ponto.client import PontoClient
    from beancount_ponto.models import Account

log = logging.getLogger(__name__)

__all__ = ["AccountResult", "SyncOptions", "SyncResult", "run_sync"]

BATCH_SIZE = 500
OPEN_DATE = "1970-01-01"


class _Run:
    """The mutable context of one run."""

    def __init__(
        self, config: Config, client: PontoClient, ledger: Path, output: Path, options: SyncOptions
    ) -> None:
        self.config = config
        self.client = client
        self.ledger = ledger
        self.output = output
        self.options = options
        self.state = SyncState.load(output)
        self._scan: LedgerScan | None = None
        self.opened: set[str] = set()
        self.dry_texts: list[str] = []
        self.backdated = False
        self._zones: dict[str, dt.tzinfo] = {}

    @property
    def scan(self) -> LedgerScan:
        """The ledger scan, made on first need (idle runs never need it)."""
        if self._scan is None:
            self._scan = scan_ledger(self.ledger, self.output)
        return self._scan

    def deleted_by_user(self, ponto_id: str) -> bool:
        """Written before but gone from the ledger.

        Only told when the ledger was scanned anyway: an idle run does not scan it.
        """
        return (
            self._scan is not None
            and ponto_id in self.state.written_ids
            and ponto_id not in self._scan.ids
        )

    def progress(self, message: str) -> None:
        log.debug("%s", message)
        if self.options.progress:
            self.options.progress(message)

    def stopping(self) -> bool:
        return bool(self.options.should_stop and self.options.should_stop())

    def is_known(self, ponto_id: str) -> bool:
        return ponto_id in self.state.written_ids or ponto_id in self.scan.ids

    def time_zone(self, link: AccountLink, account: Account) -> dt.tzinfo:
        """The zone of the account's dates (see :func:`~beancount_ponto.config.account_zone`).

        The bank's zone is asked from Ponto once and kept in the state (also when
        the bank has none). A failed request fails the account rather than
        dating its entries in a guessed zone.
        """
        if account.id in self._zones:
            return self._zones[account.id]
        record = self.state.account(account.id)

        def bank_zone() -> str | None:
            fi_id = account.financial_institution_id
            if "bank_time_zone" not in record and fi_id:
                bank = self.client.financial_institution(fi_id)
                record["bank_time_zone"] = bank.time_zone or ""
                record["bank_name"] = bank.name
            name = record.get("bank_time_zone")
            return name if isinstance(name, str) and name else None

        self._zones[account.id] = account_zone(self.config, link, bank_zone)
        return self._zones[account.id]

    def write(self, entries_text: str, ids: list[str], accounts_used: set[str]) -> None:
        """Append one batch through the crash-safe protocol."""
        missing = sorted(a for a in accounts_used - self.scan.open_accounts - self.opened)
        opens = "".join(f"{OPEN_DATE} open {name}\n" for name in missing)
        text = (opens + "\n" if opens else "") + entries_text
        if self.options.dry_run:
            self.opened.update(missing)
            self.dry_texts.append(text)
            return
        self.state.begin_batch(ids)
        append_text(self.output, text)
        self.state.end_batch()
        self.opened.update(missing)


def _convert_options(run: _Run, link: AccountLink, account: Account) -> ConvertOptions:
    return ConvertOptions(
        account=link.account,
        time_zone=run.time_zone(link, account),
        counter_account=run.config.counter_account,
        use_value_date=link.use_value_date,
        flag=run.config.flag,
        ponto_account_id=account.id,
    )


def _sync_account(run: _Run, link: AccountLink, account: Account, result: AccountResult) -> None:
    """Fetch one account's new transactions and write them oldest first."""
    options = _convert_options(run, link, account)
    stats = WalkStats()
    asserted = str(run.state.account(account.id).get("asserted_until", ""))

    seen: set[str] = set()
    span: list[dt.date] = []  # the oldest and newest date written

    def fresh() -> Iterator[tuple[str, str]]:
        for tx, known in walk(
            run.client,
            account.id,
            is_known=run.is_known,
            date_of=lambda t: entry_date(t, options.time_zone, link.use_value_date),
            overlap_days=run.config.overlap_days,
            start_date=link.start_date,
            stats=stats,
            should_stop=run.stopping,
        ):
            if tx.id in seen:  # Ponto served it twice (e.g. on two pages)
                continue
            seen.add(tx.id)
            if not known:
                day = entry_date(tx, options.time_zone, link.use_value_date)
                span[:] = [min([day, *span[:1]]), max([day, *span[1:]])]
                if day.isoformat() < asserted:
                    # Remembered with the batch: a crash before the check must not
                    # leave one of our balance assertions failing for good.
                    run.backdated = True
                    run.state.extra["recheck_balances"] = True
                result.new += 1
                if result.new % BATCH_SIZE == 0:
                    run.progress(f"{link.account}: {result.new} new so far")
                yield tx.id, format_entries([transaction_to_entry(tx, options)])
            elif run.deleted_by_user(tx.id):
                result.deleted += 1
            else:
                result.skipped += 1

    handle, offsets = spool_pairs(fresh(), None if run.options.dry_run else state_dir(run.output))
    with handle:
        if stats.interrupted:
            result.notes.append("stopped before the end; nothing written for this account")
            result.new = 0
            result.stopped = True
            return
        if span:
            _check_open(run, link, span[0], span[1])
        written = 0
        for stop in range(len(offsets), 0, -BATCH_SIZE):
            if run.stopping():
                result.notes.append(f"stopped after {written}; the rest follows next run")
                result.new = written
                result.stopped = True
                return
            ids: list[str] = []
            texts: list[str] = []
            for index in range(stop - 1, max(stop - BATCH_SIZE, 0) - 1, -1):
                handle.seek(offsets[index])
                pid, text = json.loads(handle.readline())
                ids.append(pid)
                texts.append(text)
            run.write("\n".join(texts), ids, {link.account, run.config.counter_account})
            written += len(ids)
            if len(offsets) > BATCH_SIZE:
                run.progress(f"{link.account}: wrote {written} of {len(offsets)}")


def _check_open(run: _Run, link: AccountLink, oldest: dt.date, newest: dt.date) -> None:
    """Refuse entries the ledger would reject: dated before an open or after a close.

    Raises:
        LedgerError: nothing is written for the account; the next run retries.
    """
    for name in (link.account, run.config.counter_account):
        opened = run.scan.opened_on.get(name)
        if opened is not None and oldest < opened:
            raise LedgerError(
                f"new transactions from {oldest} predate `{opened} open {name}` in your "
                f"ledger; move that open earlier, or set start_date = {opened} for this "
                "account in ponto.toml (nothing written for this account)"
            )
        closed = run.scan.closed_on.get(name)
        if closed is not None and newest >= closed:
            raise LedgerError(
                f"new transactions up to {newest} fall after `{closed} close {name}` in your "
                "ledger; reopen the account or unlink it (nothing written for this account)"
            )


def _balance_candidates(run: _Run, link: AccountLink, account: Account) -> list[Balance]:
    """Observe Ponto's current balance; return the observations ready to check."""
    if not link.balance_assertions:
        return []
    options = _convert_options(run, link, account)
    record = run.state.account(account.id)
    balance.observe(record, balance_to_entry(account, options))
    today = now_utc().astimezone(options.time_zone).date()
    return balance.settled_candidates(
        record, link.account, today, run.config.overlap_days, run.is_known
    )


def _assert_balances(run: _Run, candidates: list[tuple[AccountResult, Balance]]) -> None:
    """Write the candidate assertions the ledger agrees with; note the others."""
    totals = balance.ledger_balances(
        run.ledger, [(b.account, b.amount.currency, b.date) for _, b in candidates]
    )
    keep: list[tuple[AccountResult, Balance]] = []
    for result, entry in candidates:
        record = run.state.account(result.ponto_id)
        balance.mark_checked(record, entry)
        have = totals.get((entry.account, entry.amount.currency, entry.date), Decimal(0))
        if have == entry.amount.number:
            keep.append((result, entry))
            record.pop("balance_mismatch", None)
            record["asserted_until"] = max(entry.date.isoformat(), record.get("asserted_until", ""))
        else:
            note = balance.mismatch_note(entry, have)
            result.notes.append(note)
            record["balance_mismatch"] = note
    if keep:
        entries = [entry for _, entry in keep]
        run.write(
            format_entries(entries),
            [str(e.meta["ponto_balance"]) for e in entries],
            {e.account for e in entries},
        )
        for result, entry in keep:
            result.notes.append(f"balance asserted on {entry.date}")


def _execute(run: _Run, result: SyncResult) -> SyncResult:
    links = sorted(run.config.links.values(), key=lambda link: link.account)
    if not links:
        raise ConfigError(
            "no Ponto account is linked yet: run `bean-ponto accounts`, "
            "then `bean-ponto link REF ACCOUNT`"
        )
    results = {link.ponto_id: AccountResult(link.ponto_id, link.account) for link in links}
    result.accounts = list(results.values())
    try:
        accounts = {a.id: a for a in run.client.accounts()}
        if run.options.refresh and refresh(
            run.client,
            run.state,
            links=links,
            accounts=accounts,
            results=results,
            options=run.options,
        ):
            accounts = {a.id: a for a in run.client.accounts()}
    except PontoError as exc:
        accounts = {}
        for item in result.accounts:
            item.error = str(exc)
    candidates: list[tuple[AccountResult, Balance]] = []
    for link in links:
        item = results[link.ponto_id]
        account = accounts.get(link.ponto_id)
        if item.error is None and run.stopping():
            item.stopped = True
            item.notes.append("not fetched: stopping")
            continue
        if item.error is None and account is None:
            item.error = (
                f"Ponto account {link.ponto_id} is no longer shared with this "
                "integration; check the integration's accounts in Ponto"
            )
        if item.error is None and account is not None:
            remembered = ConsentRefusal.from_json(run.state.account(account.id).get(REFUSAL_KEY))
            item.refusal = item.refusal or current_refusal(account, remembered)
            try:
                _sync_account(run, link, account, item)
                candidates.extend(
                    (item, entry) for entry in _balance_candidates(run, link, account)
                )
            except ConsentExpiredError as exc:
                item.error = str(exc)
                item.refusal = refusal_from_error(exc, now_utc())
            except PontoError as exc:
                item.error = str(exc)
        if not run.options.dry_run:
            record_outcome(run.state.account(link.ponto_id), link.account, account, item)
    if result.included and not run.options.dry_run:
        if run.backdated or run.state.extra.get("recheck_balances"):
            try:
                notes = balance.withdraw_failing(run.ledger, run.output)
                run.state.extra.pop("recheck_balances", None)
            except OSError as exc:  # e.g. the file was being edited: next run retries
                run.state.extra["recheck_balances"] = True
                notes = [f"balance assertions not rechecked yet ({exc}); next run retries"]
            for item in result.accounts:
                item.notes.extend(n for n in notes if item.account in n or "rechecked" in n)
        if candidates and result.new > BATCH_SIZE:
            # Checking needs a full load of the ledger, whose memory grows with
            # its size; a backfill run stays flat and leaves it to the next run.
            for item, _entry in candidates:
                item.notes.append("balance assertion follows at the next run")
        elif candidates and not run.stopping():
            _assert_balances(run, candidates)
    result.stopped = any(item.stopped for item in result.accounts)
    if not run.options.dry_run:
        run.state.add_run(
            {
                "at": to_iso(now_utc()),
                "source": run.options.source,
                "ok": result.ok,
                "accounts": {
                    a.ponto_id: {
                        "account": a.account,
                        "new": a.new,
                        "skipped": a.skipped,
                        "deleted": a.deleted,
                        "error": a.error,
                        "notes": a.notes
                        + ([f"ACTION NEEDED: {a.refusal.describe()}"] if a.refusal else []),
                    }
                    for a in result.accounts
                },
            }
        )
        run.state.save()
    result.entries_text = "\n".join(run.dry_texts)
    return result


def run_sync(
    config: Config,
    client: PontoClient,
    *,
    ledger: Path,
    output: Path,
    options: SyncOptions | None = None,
) -> SyncResult:
    """Run one sync of every linked account (see the module contract).

    Args:
        config: the configuration with the account links.
        client: a Ponto client.
        ledger: the main ledger file.
        output: the file new entries are appended to.
        options: how to run.

    Raises:
        ConfigError: nothing is linked.
        LedgerError: the ledger cannot be read or written.
        LockTimeoutError: another writer kept the lock.
    """
    options = options or SyncOptions()
    run = _Run(config, client, ledger, output, options)

    def go() -> SyncResult:
        run.state = SyncState.load(output)
        if not options.dry_run:
            run.state.recover()
            if not output.exists():
                create_output(output)
        cache = run.state.extra.setdefault("includes", {})
        included = output.resolve() in ledger_files(ledger, with_missing=True, cache=cache)
        return _execute(run, SyncResult(output=output, included=included))

    if options.dry_run:
        return go()
    with writer_lock(output, options.lock_timeout):
        return go()
