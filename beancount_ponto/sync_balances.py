"""The balance steps of a sync run: observe, assert what the ledger agrees with, deep checks.

Contract: :func:`balance_candidates` records Ponto's balance in the account's
state and returns the observations ready to assert; :func:`assert_balances`
writes, in one batch, those the ledger agrees with (one full load) and notes
the others; :func:`finish_deep_checks` gives this run's deep walks their
verdict. See :mod:`beancount_ponto.balance` and :mod:`beancount_ponto.deepcheck`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from beancount_ponto import balance, deepcheck
from beancount_ponto.admit import balance_refusal
from beancount_ponto.convert import balance_to_entry, format_entries
from beancount_ponto.timeutil import now_utc

if TYPE_CHECKING:
    from beancount.core.data import Balance

    from beancount_ponto.config import AccountLink
    from beancount_ponto.ponto.models import Account
    from beancount_ponto.results import AccountResult, SyncResult

from beancount_ponto.sync_run import BATCH_SIZE, SyncRun


def balance_candidates(run: SyncRun, link: AccountLink, account: Account) -> list[Balance]:
    """Observe Ponto's current balance; return the observations ready to check."""
    if not link.balance_assertions:
        return []
    options = run.options_for(link, account)
    record = run.state.account(account.id)
    balance.observe(record, balance_to_entry(account, options))
    today = now_utc().astimezone(options.time_zone).date()
    return balance.settled_candidates(
        record, link.account, today, run.config.overlap_days, run.is_known
    )


def assert_balances(run: SyncRun, candidates: list[tuple[AccountResult, Balance]]) -> None:
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


def finish_deep_checks(run: SyncRun, result: SyncResult, results: dict[str, AccountResult]) -> None:
    """Give this run's deep walks their balance verdict; note them per account."""
    for item in run.deep_pending:
        if not result.included:
            item.unchecked_reason = "the output file is not included in the ledger"
        elif result.new > BATCH_SIZE:  # keep a backfill's memory flat, as for assertions
            item.unchecked_reason = "large backfill; compared at the next deep check"
    done = deepcheck.finish(run.ledger, run.state.accounts, run.deep_pending, now_utc())
    for ponto_id, check in done.items():
        results[ponto_id].notes.append(f"deep check: {check.describe()}")
