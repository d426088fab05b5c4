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

import json
import logging
from typing import TYPE_CHECKING

from beancount_ponto import deepcheck, pending, withdraw
from beancount_ponto.admit import NewEntries, check_account
from beancount_ponto.consent import current_refusal, refusal_from_error
from beancount_ponto.convert import balance_to_entry, format_entries
from beancount_ponto.errors import ConfigError, ConsentExpiredError, PontoError
from beancount_ponto.fileutil import spool_pairs
from beancount_ponto.ledger import (
    create_output,
    ensure_options,
    ledger_files,
    state_dir,
    writer_lock,
)
from beancount_ponto.ledger_options import root_options
from beancount_ponto.pipeline import (
    new_entries,
    not_shared,
)
from beancount_ponto.refresh import refresh
from beancount_ponto.results import AccountResult, SyncOptions, SyncResult
from beancount_ponto.state import SyncState
from beancount_ponto.state_runs import RunRecord
from beancount_ponto.sync_balances import assert_balances, balance_candidates, finish_deep_checks
from beancount_ponto.sync_run import BATCH_SIZE, SyncRun
from beancount_ponto.timeutil import now_utc
from beancount_ponto.walk import WalkStats

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from beancount.core.data import Balance

    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Account

log = logging.getLogger(__name__)

__all__ = ["AccountResult", "SyncOptions", "SyncResult", "run_sync"]


def _sync_account(run: SyncRun, link: AccountLink, account: Account, result: AccountResult) -> None:
    """Fetch one account's new transactions and write them oldest first."""
    options = run.options_for(link, account)
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


def _readable_accounts(run: SyncRun, results: dict[str, AccountResult]) -> dict[str, Account]:
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


def _execute(run: SyncRun, result: SyncResult) -> SyncResult:
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
                candidates.extend((item, entry) for entry in balance_candidates(run, link, account))
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
            assert_balances(run, candidates)
    if run.deep_pending and not run.options.dry_run:
        finish_deep_checks(run, result, results)
    result.stopped = any(item.stopped for item in result.accounts)
    if run.gone:
        result.notes.append(_gone_note(run))
    if not run.options.dry_run:
        run.state.add_run(RunRecord.of(result, run.options.source, now_utc()))
        run.state.save()
        run.booker.save()
    result.entries_text = "\n".join(run.dry_texts)
    return result


def _gone_note(run: SyncRun) -> str:
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


def _rewrite_pending(run: SyncRun, result: SyncResult, path: Path) -> None:
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
    run = SyncRun(config, client, ledger, output, options)

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
