"""The deep check: read an account's whole list, bring in what is missing, compare balances.

The ordinary walk (:func:`beancount_ponto.walk.walk`) stops early; a
transaction Ponto delivers more than ``overlap_days`` late, below what the walk
reads, would stay missing. The deep check is the safety net, with Ponto's
balance as the end-to-end checksum.

Contract:

* An account's deep check is *due* (:func:`due`) when asked for
  (``bean-ponto sync --full``), when its last one is at least
  :data:`DEEP_CHECK_EVERY` minus :data:`DUE_SLACK` old (or there is none yet),
  or when a balance mismatch was noted that no deep check has answered yet.
  A check is dated when it ends, while cron and timers start runs on the
  hour: the slack makes the 24th hourly run do it, not the 25th. So an hourly
  idle run pays for it once a day per account, and once per new mismatch.
* A deep walk ignores the stop rule; what it finds unknown is written like any
  new transaction (ids written before and deleted by the user stay out).
* After the writes, the ledger's balance on the day after Ponto's reference
  date is compared with Ponto's balance (one ledger load for all accounts
  checked in the run): the *verdict* is ``agrees``, ``differs`` or
  ``unchecked`` (output not included in the ledger, no balance from Ponto, or
  a large backfill whose memory must stay flat).
* When the verdict agrees, a balance mismatch noted before is cleared and its
  reference date may be asserted again at the next run.
* The outcome is remembered per account as a :class:`DeepCheck` in the state
  record under :data:`RECORD_KEY`; status and the Fava page show it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from beancount_ponto import balance
from beancount_ponto.state_schema import DeepCheck, Trigger, Verdict

if TYPE_CHECKING:
    from pathlib import Path

    from beancount.core.data import Balance

    from beancount_ponto.state_schema import AccountState

DEEP_CHECK_EVERY = dt.timedelta(hours=24)
#: How much earlier than :data:`DEEP_CHECK_EVERY` a run may come and still do it.
DUE_SLACK = dt.timedelta(minutes=30)


def due(record: AccountState, now: dt.datetime, *, full: bool) -> Trigger | None:
    """Why the account's deep check is due now, or None when it is not."""
    if full:
        return "full"
    last = record.deep_check
    mismatch = record.balance_mismatch
    if mismatch is not None and (last is None or last.mismatch != mismatch):
        return "mismatch"
    if last is None or now - last.at >= DEEP_CHECK_EVERY - DUE_SLACK:
        return "daily"
    return None


@dataclass
class PendingCheck:
    """A deep walk done in this run, waiting for its balance verdict."""

    ponto_id: str
    trigger: Trigger
    pages: int
    seen: int
    missing: int
    entry: Balance | None
    unchecked_reason: str | None = None


def finish(
    ledger: Path,
    records: dict[str, AccountState],
    pending: list[PendingCheck],
    now: dt.datetime,
) -> dict[str, DeepCheck]:
    """Compare balances (one ledger load) and remember each check in its record.

    Args:
        ledger: the main ledger file.
        records: the state records by Ponto account id.
        pending: the deep walks of this run.
        now: the time of the check.

    Returns:
        the remembered checks by Ponto account id.
    """
    wanted = [
        (p.entry.account, p.entry.amount.currency, p.entry.date)
        for p in pending
        if p.entry is not None and p.unchecked_reason is None
    ]
    totals = balance.ledger_balances(ledger, wanted) if wanted else {}
    done: dict[str, DeepCheck] = {}
    for item in pending:
        record = records[item.ponto_id]
        mismatch = record.balance_mismatch
        verdict: Verdict = "unchecked"
        note = item.unchecked_reason or "Ponto gave no balance"
        entry = item.entry
        if entry is not None and item.unchecked_reason is None:
            have = totals.get((entry.account, entry.amount.currency, entry.date), Decimal(0))
            bank = entry.amount.number
            day = entry.date - dt.timedelta(days=1)
            note = f"bank {bank} {entry.amount.currency} on {day}, ledger {have}"
            verdict = "agrees" if have == bank else "differs"
            if verdict == "agrees" and mismatch is not None:
                record.balance_mismatch = None
                key = str(entry.meta[balance.META_KEY])
                record.balances_checked = [k for k in record.balances_checked if k != key]
        check = DeepCheck(
            at=now,
            trigger=item.trigger,
            pages=item.pages,
            seen=item.seen,
            missing=item.missing,
            balance=verdict,
            balance_note=note,
            mismatch=mismatch,
        )
        record.deep_check = check
        done[item.ponto_id] = check
    return done
