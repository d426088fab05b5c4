"""What the Fava page needs from a loaded ledger, computed in one walk.

Contract: :meth:`LedgerIndex.build` walks the entries Fava already loaded
(sorted by date, as Beancount returns them) exactly once and keeps:

* the open accounts under the given roots (``Assets``/``Liabilities``) with
  their currency constraints, for the link selector;
* for every (account, currency) under those roots, the running balance per
  day, so :meth:`LedgerIndex.balance` answers "the balance at the end of a
  day, sub-accounts included" with a binary search, never another walk;
* the latest transactions that came from Ponto (``ponto_id`` metadata).

The index is immutable once built; the page rebuilds it only after Fava
reloads the ledger. Nothing here reads files or talks to Ponto.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from beancount.core import data

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

LATEST_COUNT = 8


def _cents(number: object) -> str:
    """An amount with at least two decimals (``-120.0`` reads ``-120.00``)."""
    if not isinstance(number, Decimal):
        return ""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return f"{number:,}"


@dataclass(frozen=True)
class LedgerTxn:
    """A transaction from Ponto as the ledger holds it now (after the user's edits)."""

    date: dt.date
    account: str
    payee: str
    narration: str
    amount: str
    currency: str
    number: Decimal | None = None


@dataclass
class _Series:
    """Running totals of one (account, currency), one point per day."""

    days: list[dt.date] = field(default_factory=list)
    totals: list[Decimal] = field(default_factory=list)

    def add(self, day: dt.date, number: Decimal) -> None:
        if self.days and self.days[-1] == day:
            self.totals[-1] += number
            return
        self.days.append(day)
        self.totals.append((self.totals[-1] if self.totals else Decimal(0)) + number)

    def at_end_of(self, day: dt.date) -> Decimal:
        index = bisect.bisect_right(self.days, day) - 1
        return self.totals[index] if index >= 0 else Decimal(0)


@dataclass
class LedgerIndex:
    """Balances, open accounts and latest Ponto transactions of one ledger load."""

    roots: tuple[str, ...]
    open_accounts: dict[str, frozenset[str] | None] = field(default_factory=dict)
    latest: list[LedgerTxn] = field(default_factory=list)
    _series: dict[tuple[str, str], _Series] = field(default_factory=dict)

    @classmethod
    def build(cls, entries: Iterable[object], roots: tuple[str, ...]) -> LedgerIndex:
        """Walk ``entries`` once.

        Args:
            entries: the loaded directives, sorted by date.
            roots: the root account names to index (e.g. ``("Assets", "Liabilities")``).

        Returns:
            the index.
        """
        index = cls(roots=roots)
        prefixes = tuple(f"{root}:" for root in roots)
        closed: set[str] = set()
        latest: deque[LedgerTxn] = deque(maxlen=LATEST_COUNT)
        series = index._series
        for entry in entries:
            if isinstance(entry, data.Transaction):
                for posting in entry.postings:
                    units = posting.units
                    if not posting.account.startswith(prefixes) or units is None:
                        continue
                    number = units.number
                    if isinstance(number, Decimal):
                        key = (posting.account, units.currency)
                        line = series.get(key)
                        if line is None:
                            line = series[key] = _Series()
                        line.add(entry.date, number)
                if entry.meta and "ponto_id" in entry.meta and entry.postings:
                    first = entry.postings[0]
                    amount = first.units
                    latest.append(
                        LedgerTxn(
                            date=entry.date,
                            account=first.account,
                            payee=entry.payee or "",
                            narration=entry.narration or "",
                            amount=_cents(amount.number) if amount is not None else "",
                            currency=amount.currency if amount is not None else "",
                            number=amount.number if amount is not None else None,
                        )
                    )
            elif isinstance(entry, data.Open) and entry.account.startswith(prefixes):
                currencies = frozenset(entry.currencies) if entry.currencies else None
                index.open_accounts[entry.account] = currencies
            elif isinstance(entry, data.Close):
                closed.add(entry.account)
        for name in closed:
            index.open_accounts.pop(name, None)
        index.latest = list(reversed(latest))
        return index

    def balance(self, account: str, currency: str, day: dt.date) -> Decimal:
        """The balance of ``account`` (sub-accounts included) in ``currency`` at the end of ``day``.

        This is what a Beancount ``balance`` directive dated the next day checks.
        """
        total = Decimal(0)
        child = account + ":"
        for (name, cur), line in self._series.items():
            if cur == currency and (name == account or name.startswith(child)):
                total += line.at_end_of(day)
        return total

    def choices(self, currency: str) -> list[str]:
        """The open accounts a Ponto account in ``currency`` may be linked to, sorted."""
        return sorted(
            name
            for name, allowed in self.open_accounts.items()
            if allowed is None or currency in allowed
        )
