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
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from beancount_ponto import balance
from beancount_ponto.i18n import _
from beancount_ponto.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from pathlib import Path

    from beancount.core.data import Balance

RECORD_KEY = "deep_check"
DEEP_CHECK_EVERY = dt.timedelta(hours=24)
#: How much earlier than :data:`DEEP_CHECK_EVERY` a run may come and still do it.
DUE_SLACK = dt.timedelta(minutes=30)

#: Why a deep check ran.
Trigger = Literal["full", "daily", "mismatch"]
#: What the balance comparison after a deep check found.
Verdict = Literal["agrees", "differs", "unchecked"]


@dataclass(frozen=True)
class DeepCheck:
    """The outcome of one deep check of one account.

    Attributes:
        at: when it ran (aware UTC).
        trigger: why it ran.
        pages: pages read.
        seen: transactions read.
        missing: transactions it found missing and brought in.
        balance: the verdict of the balance comparison.
        balance_note: the figures behind the verdict (or why unchecked).
        mismatch: the balance mismatch note it answered, if any (so that one
            mismatch causes one deep check, not one per run).
    """

    at: dt.datetime
    trigger: Trigger
    pages: int
    seen: int
    missing: int
    balance: Verdict
    balance_note: str | None = None
    mismatch: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO 8601 time)."""
        return {
            "at": to_iso(self.at),
            "trigger": self.trigger,
            "pages": self.pages,
            "seen": self.seen,
            "missing": self.missing,
            "balance": self.balance,
            "balance_note": self.balance_note,
            "mismatch": self.mismatch,
        }

    @classmethod
    def from_json(cls, raw: object) -> DeepCheck | None:
        """Read what :meth:`to_json` wrote; None for anything else."""
        if not isinstance(raw, dict):
            return None
        at = from_iso(raw.get("at"))
        trigger, verdict = raw.get("trigger"), raw.get("balance")
        counts = [raw.get(k) for k in ("pages", "seen", "missing")]
        if (
            at is None
            or trigger not in get_args(Trigger)
            or verdict not in get_args(Verdict)
            or not all(isinstance(c, int) for c in counts)
        ):
            return None
        note, mismatch = raw.get("balance_note"), raw.get("mismatch")
        return cls(
            at=at,
            trigger=cast("Trigger", trigger),
            pages=int(raw["pages"]),
            seen=int(raw["seen"]),
            missing=int(raw["missing"]),
            balance=cast("Verdict", verdict),
            balance_note=note if isinstance(note, str) else None,
            mismatch=mismatch if isinstance(mismatch, str) else None,
        )

    def describe(self) -> str:
        """One line for people, without the time (English but on a Dutch or French Fava page)."""
        found = (
            _("%(count)s missing brought in", count=self.missing)
            if self.missing
            else _("nothing missing")
        )
        verdict = {
            "agrees": _("bank balance agrees with the ledger"),
            "differs": _("bank balance DIFFERS from the ledger"),
            "unchecked": _("balance not compared"),
        }[self.balance]
        note = f" ({self.balance_note})" if self.balance_note and self.balance != "agrees" else ""
        read = _("read %(seen)s in %(pages)s pages", seen=self.seen, pages=self.pages)
        return f"{read}, {found}; {verdict}{note}"


def last_check(record: dict[str, Any]) -> DeepCheck | None:
    """The last deep check remembered in an account's state record."""
    return DeepCheck.from_json(record.get(RECORD_KEY))


def due(record: dict[str, Any], now: dt.datetime, *, full: bool) -> Trigger | None:
    """Why the account's deep check is due now, or None when it is not."""
    if full:
        return "full"
    last = last_check(record)
    mismatch = record.get("balance_mismatch")
    if isinstance(mismatch, str) and (last is None or last.mismatch != mismatch):
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
    records: dict[str, dict[str, Any]],
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
        mismatch = record.get("balance_mismatch")
        verdict: Verdict = "unchecked"
        note = item.unchecked_reason or "Ponto gave no balance"
        entry = item.entry
        if entry is not None and item.unchecked_reason is None:
            have = totals.get((entry.account, entry.amount.currency, entry.date), Decimal(0))
            bank = entry.amount.number
            day = entry.date - dt.timedelta(days=1)
            note = f"bank {bank} {entry.amount.currency} on {day}, ledger {have}"
            verdict = "agrees" if have == bank else "differs"
            if verdict == "agrees" and isinstance(mismatch, str):
                record.pop("balance_mismatch", None)
                key = str(entry.meta[balance.META_KEY])
                record["balances_checked"] = [
                    k for k in record.get("balances_checked", []) if k != key
                ]
        check = DeepCheck(
            at=now,
            trigger=item.trigger,
            pages=item.pages,
            seen=item.seen,
            missing=item.missing,
            balance=verdict,
            balance_note=note,
            mismatch=mismatch if isinstance(mismatch, str) else None,
        )
        record[RECORD_KEY] = check.to_json()
        done[item.ponto_id] = check
    return done
