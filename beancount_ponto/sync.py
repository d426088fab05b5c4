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
* Each account's list is walked until the stop rule of
  :mod:`beancount_ponto.walk` says stop, or wholly when its deep check is due
  (:mod:`beancount_ponto.deepcheck`: ``full``, daily, or after a balance
  mismatch); a deep check's outcome is remembered only for a complete run.
* Nothing the ledger would reject is written (:mod:`beancount_ponto.admit`):
  such an account fails with a line naming the fix, and nothing of it is
  written or logged, so it all arrives once the ledger is fixed. An account no
  ``open`` names is opened by bean-ponto at the earlier of 1970-01-01 and the
  oldest entry written for it; an older later arrival is refused ("move that
  open earlier").
* A balance assertion is added per account and Ponto reference date, only
  when the ledger's balance matches the bank's (checked by one full load of
  the ledger, at most once per new reference date), so the ledger keeps
  passing ``bean-check``. A batch holding a transaction dated on or before
  one of our assertions comments out, in the same atomic replacement, the
  assertions it breaks (:mod:`beancount_ponto.withdraw`). If one of those
  assertions was moved by the user to another file, the batch is refused
  (that file is never edited): the account fails naming the assertion's
  place, and the batch arrives once the user withdraws it.
* Ponto synchronizations are created only with ``refresh=True`` (the user
  is present), with their IP, at most once per 30 minutes per account.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from beancount_ponto import balance, deepcheck, pending, withdraw
from beancount_ponto.admit import NewEntries, auto_open_date, balance_refusal, check_account
from beancount_ponto.consent import current_refusal, refusal_from_error
from beancount_ponto.convert import ConvertOptions, balance_to_entry, format_entries
from beancount_ponto.errors import ConfigError, ConsentExpiredError, LedgerError, PontoError
from beancount_ponto.fileutil import spool_pairs
from beancount_ponto.ledger import (
    OUTPUT_HEADER,
    LedgerScan,
    append_text,
    create_output,
    ensure_options,
    ledger_files,
    scan_ledger,
    state_dir,
    writer_lock,
)
from beancount_ponto.ledger_options import root_options
from beancount_ponto.pipeline import (
    Booker,
    account_time_zone,
    convert_options,
    new_entries,
    not_shared,
)
from beancount_ponto.refresh import refresh
from beancount_ponto.results import AccountResult, SyncOptions, SyncResult
from beancount_ponto.state import SyncState
from beancount_ponto.state_runs import RunRecord
from beancount_ponto.timeutil import now_utc
from beancount_ponto.walk import WalkStats

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from beancount.core.data import Balance

    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Account

log = logging.getLogger(__name__)

__all__ = ["AccountResult", "SyncOptions", "SyncResult", "run_sync"]

BATCH_SIZE = 500


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
        self.opened: dict[str, dt.date] = {}  # opens written in this run, with their date
        self.dry_texts: list[str] = []
        self.output_was_missing = False
        self.gone = 0  # ids written before and no longer in the ledger
        self._zones: dict[str, dt.tzinfo] = {}
        self.deep_pending: list[deepcheck.PendingCheck] = []
        #: Ponto's last account list of this run (reused for the pending file)
        self.listed: Mapping[str, Account | PontoError] | None = None
        self.booker = Booker(config, ledger, output)

    @property
    def scan(self) -> LedgerScan:
        """The ledger scan, made on first need (idle runs never need it)."""
        if self._scan is None:
            self._scan = scan_ledger(self.ledger, self.output)
            written = self.state.written_ids
            self.gone = len(written - self._scan.ids - self._scan.withdrawn)
        return self._scan

    def asserted_until(self, ponto_id: str) -> str:
        """The latest date of our balance assertions of an account (ISO; "" for none).

        Read from the state and from the ledger's ``ponto_balance`` keys
        (``<account id>/<reference date>``, asserted the day after), so a lost
        state file does not hide an assertion a late transaction could break.
        """
        until = self.state.account(ponto_id).asserted_until
        dates = [until.isoformat() if until else ""]
        for key in self.scan.ids:
            account, _, reference = key.rpartition("/")
            if account == ponto_id:
                with contextlib.suppress(ValueError):
                    day = dt.date.fromisoformat(reference) + dt.timedelta(days=1)
                    dates.append(day.isoformat())
        return max(dates)

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
        if account.id not in self._zones:
            record = self.state.account(account.id)
            self._zones[account.id] = account_time_zone(
                self.client, self.config, link, account, record
            )
        return self._zones[account.id]

    def write(
        self,
        entries_text: str,
        ids: list[str],
        accounts_used: set[str],
        oldest: dt.date | None,
        *,
        late: bool = False,
    ) -> list[str]:
        """Append one batch through the crash-safe protocol.

        Args:
            entries_text: the entries.
            ids: their ids.
            accounts_used: accounts they post to. Accounts no ``open`` names are
                opened first, at :func:`auto_open_date` of ``oldest``.
            oldest: the oldest entry the caller will write for them.
            late: the batch may hold transactions dated on or before one of our
                balance assertions: the assertions it breaks are withdrawn in
                the same atomic replacement (see :mod:`beancount_ponto.withdraw`).
                One the user moved out of the output file refuses the batch.

        Returns:
            one note per withdrawn assertion.

        Raises:
            LedgerError: the output file cannot be written, or a late batch breaks
                one of our assertions that the user moved to another file
                (nothing was written).
        """
        missing = sorted(a for a in accounts_used - self.scan.open_accounts - set(self.opened))
        day = auto_open_date(oldest)
        opens = "".join(f"{day} open {name}\n" for name in missing)
        text = (opens + "\n" if opens else "") + entries_text
        notes: list[str] = []
        if self.options.dry_run:
            self.opened.update(dict.fromkeys(missing, day))
            self.dry_texts.append(text)
            return notes
        try:
            failing = withdraw.failing_assertions(self.ledger, self.output, text) if late else []
        except OSError as exc:
            raise LedgerError(
                f"cannot read {self.ledger}: {exc.strerror or exc}; "
                "nothing written for this account, the next run retries"
            ) from None
        elsewhere = [w for w in failing if not w.in_output]
        if elsewhere:  # moved by the user out of the output file: never edited by us
            raise LedgerError(withdraw.refusal(elsewhere[0], self.output))
        self.state.begin_batch(ids)
        if late:
            try:
                notes = withdraw.replace_output(self.output, failing, text, header=OUTPUT_HEADER)
            except OSError as exc:
                raise LedgerError(
                    f"cannot write {self.output}: {exc.strerror or exc}; "
                    "nothing written for this account, the next run retries"
                ) from None
        else:
            append_text(self.output, text)
        self.state.end_batch()
        self.opened.update(dict.fromkeys(missing, day))
        return notes


def _convert_options(run: _Run, link: AccountLink, account: Account) -> ConvertOptions:
    return convert_options(run.config, link, account, run.time_zone(link, account))


def _sync_account(run: _Run, link: AccountLink, account: Account, result: AccountResult) -> None:
    """Fetch one account's new transactions and write them oldest first."""
    options = _convert_options(run, link, account)
    stats = WalkStats()
    record = run.state.account(account.id)
    full = run.options.full
    trigger = (
        deepcheck.due(record, now_utc(), full=full) if full or not run.options.dry_run else None
    )
    asserted: list[str] = []  # read at the first new transaction (the ledger is scanned then)
    late: set[str] = set()  # ids dated on or before one of our balance assertions

    new = NewEntries()  # what the new entries ask of the ledger
    used = {link.account}  # the accounts the new entries post to

    def fresh() -> Iterator[tuple[str, str]]:
        for item in new_entries(
            run.client,
            link,
            options,
            run.booker,
            is_known=run.is_known,
            overlap_days=run.config.overlap_days,
            deep=trigger is not None,
            stats=stats,
            should_stop=run.stopping,
        ):
            tx = item.tx
            if item.entry is not None:
                day = item.day
                new.add(tx.id, day, tx.currency, tx.amount, tx.fee)
                used.update(posting.account for posting in item.entry.postings)
                if not asserted:
                    asserted.append(run.asserted_until(account.id))
                if day.isoformat() < asserted[0]:
                    late.add(tx.id)  # one of our balance assertions may break
                result.new += 1
                if result.new % BATCH_SIZE == 0:
                    run.progress(f"{link.account}: {result.new} new so far")
                yield tx.id, format_entries([item.entry])
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
        if new.oldest is not None:  # an idle run does not scan the ledger
            check_account(run.scan, run.opened, tuple(sorted(used)), new)
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
            result.notes.extend(
                run.write(
                    "\n".join(texts),
                    ids,
                    used,
                    new.oldest,
                    late=not late.isdisjoint(ids),
                )
            )
            written += len(ids)
            if len(offsets) > BATCH_SIZE:
                run.progress(f"{link.account}: wrote {written} of {len(offsets)}")
        if trigger is not None and not run.options.dry_run:
            run.deep_pending.append(
                deepcheck.PendingCheck(
                    account.id,
                    trigger,
                    stats.pages,
                    stats.seen,
                    result.new,
                    balance_to_entry(account, options),
                )
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
    """Write the candidate assertions the ledger agrees with; note the others.

    One the ledger would reject (currency not allowed, before the ``open``) is
    noted and left unchecked, so it is considered again once the ledger is fixed.
    """
    acceptable: list[tuple[AccountResult, Balance]] = []
    for result, entry in candidates:
        refusal = balance_refusal(
            run.scan, run.opened, entry.account, entry.amount.currency, entry.date
        )
        if refusal is None:
            acceptable.append((result, entry))
        else:
            result.notes.append(refusal)
    candidates = acceptable
    if not candidates:
        return
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
            record.balance_mismatch = None
            record.asserted_until = max(entry.date, record.asserted_until or entry.date)
        else:
            note = balance.mismatch_note(entry, have)
            result.notes.append(note)
            record.balance_mismatch = note
    if keep:
        entries = [entry for _, entry in keep]
        run.write(
            format_entries(entries),
            [str(e.meta["ponto_balance"]) for e in entries],
            {e.account for e in entries},
            min(e.date for e in entries),
        )
        for result, entry in keep:
            result.notes.append(f"balance asserted on {entry.date}")


def _finish_deep_checks(run: _Run, result: SyncResult, results: dict[str, AccountResult]) -> None:
    """Give this run's deep walks their balance verdict; note them per account."""
    for item in run.deep_pending:
        if not result.included:
            item.unchecked_reason = "the output file is not included in the ledger"
        elif result.new > BATCH_SIZE:  # keep a backfill's memory flat, as for assertions
            item.unchecked_reason = "large backfill; compared at the next deep check"
    done = deepcheck.finish(run.ledger, run.state.accounts, run.deep_pending, now_utc())
    for ponto_id, check in done.items():
        results[ponto_id].notes.append(f"deep check: {check.describe()}")


def _readable_accounts(run: _Run, results: dict[str, AccountResult]) -> dict[str, Account]:
    """The accounts Ponto lists; a malformed one fails its own result only."""
    accounts: dict[str, Account] = {}
    run.listed = run.client.accounts_each()
    for ponto_id, found in run.listed.items():
        if isinstance(found, PontoError):
            if ponto_id in results:
                results[ponto_id].error = str(found)
        else:
            accounts[ponto_id] = found
    return accounts


def _execute(run: _Run, result: SyncResult) -> SyncResult:
    links = sorted(run.config.links.values(), key=lambda link: link.account)
    if not links:
        raise ConfigError(
            "no Ponto account is linked yet: run `bean-ponto accounts`, "
            "then `bean-ponto link REF ACCOUNT`"
        )
    results = {link.ponto_id: AccountResult(link.ponto_id, link.account) for link in links}
    result.accounts = list(results.values())
    if run.output_was_missing and run.state.written_ids:
        _ = run.scan  # every entry written before is gone: tell them from the ledger's own
    try:
        accounts = _readable_accounts(run, results)
        if run.options.refresh and refresh(
            run.client,
            run.state,
            links=links,
            accounts=accounts,
            results=results,
            options=run.options,
        ):
            accounts = _readable_accounts(run, results)
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
            item.error = not_shared(link.ponto_id)
        if item.error is None and account is not None:
            remembered = run.state.account(account.id).refusal
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
            run.state.account(link.ponto_id).saw(link.account, account, item)
    if result.included and not run.options.dry_run:
        if run.state.recheck_balances:  # remembered by an older version
            try:
                notes = withdraw.withdraw_failing(run.ledger, run.output)
                run.state.recheck_balances = False
            except OSError as exc:  # e.g. the file was being edited: next run retries
                run.state.recheck_balances = True
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
    if run.deep_pending and not run.options.dry_run:
        _finish_deep_checks(run, result, results)
    result.stopped = any(item.stopped for item in result.accounts)
    if run.gone:
        result.notes.append(_gone_note(run))
    if not run.options.dry_run:
        run.state.add_run(RunRecord.of(result, run.options.source, now_utc()))
        run.state.save()
        run.booker.save()
    result.entries_text = "\n".join(run.dry_texts)
    return result


def _gone_note(run: _Run) -> str:
    """Say that entries written before are missing from the ledger, and stay out."""
    count = run.gone
    text = (
        f"{count} entries written before are no longer in the ledger and are kept out"
        if count != 1
        else "1 entry written before is no longer in the ledger and is kept out"
    )
    if run.output_was_missing:
        return (
            f"{run.output} was missing and was started again: {text} "
            "(restore the file from a backup to get them back)"
        )
    return f"{text} (deleted stays deleted)"


def _rewrite_pending(run: _Run, result: SyncResult, path: Path) -> None:
    """Rewrite the optional pending file (see :mod:`beancount_ponto.pending`)."""
    if run.stopping():
        result.notes.append(f"pending file {path} not rewritten: stopping")
        return
    try:
        lists = pending.collect(run.config, run.client, run.time_zone, accounts=run.listed)
    except PontoError as exc:  # nothing readable: none shown, so none shown twice
        lists = pending.unreadable(run.config, str(exc))
    try:
        pending.write_pending_file(path, run.ledger, lists)
    except PontoError as exc:
        result.notes.append(f"pending file {path} not rewritten: {exc}")
        return
    for item in lists:
        if item.error:
            result.notes.append(f"{item.account}: left out of the pending file: {item.error}")


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
        _ = run.state.written_ids  # a damaged ids log stops the run once, not per account
        if not options.dry_run:
            run.state.recover()
            roots = root_options(ledger)
            if not output.exists():
                run.output_was_missing = True
                create_output(output, roots)
            else:
                ensure_options(output, roots)
        cache = run.state.includes
        included = output.resolve() in ledger_files(ledger, with_missing=True, cache=cache)
        result = _execute(run, SyncResult(output=output, included=included))
        if config.pending_file is not None and not options.dry_run:
            _rewrite_pending(run, result, config.pending_file)
        return result

    if options.dry_run:
        return go()
    with writer_lock(output, options.lock_timeout):
        return go()
