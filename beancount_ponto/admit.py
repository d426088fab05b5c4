"""Refusing, before writing, what the ledger would reject.

Contract: pure (no I/O). :class:`NewEntries` collects what one account's new
transactions need from the ledger (their dates, currencies and digits) while
they are fetched; :func:`check_account` compares that with the ledger's
``open``/``close`` directives and raises :class:`~beancount_ponto.errors.LedgerError`
with one line naming the problem and the fix. The caller then writes nothing
for that account and records none of its ids, so the refused transactions
arrive once the ledger is fixed.

Refused, for the linked account and for the counter account alike:

* a date before the account's ``open`` (the user's, or the one bean-ponto
  wrote), or on/after its ``close``;
* a currency the ``open`` does not list (an ``open`` without currencies allows any);
* an amount (or fee) with more than :data:`MAX_DIGITS` significant digits,
  which Beancount's parser cannot hold exactly (it rounds negative numbers to 28).

An ``open`` bean-ponto writes itself is dated :func:`auto_open_date`: the
earlier of :data:`OPEN_DATE` and the oldest entry it opens the account for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beancount_ponto.errors import LedgerError

if TYPE_CHECKING:
    from decimal import Decimal

    from beancount_ponto.ledger import LedgerScan

__all__ = ["MAX_DIGITS", "OPEN_DATE", "NewEntries", "auto_open_date", "check_account"]

#: Significant digits Beancount's parser keeps (its decimal context's precision).
MAX_DIGITS = 28

#: The latest date an ``open`` written by bean-ponto gets. A fixed early date keeps
#: valid what arrives later and older: a late delivery, a backfill with an earlier
#: ``start_date``, another linked account sharing the counter account.
OPEN_DATE = dt.date(1970, 1, 1)

_NOTHING = "nothing written for this account"


def digits(number: Decimal) -> int:
    """Significant digits of ``number`` as printed in plain notation (``1E+3`` has 4)."""
    sign_digits_exponent = number.as_tuple()
    exponent = sign_digits_exponent.exponent
    count = len(sign_digits_exponent.digits)
    return count + exponent if isinstance(exponent, int) and exponent > 0 else count


def auto_open_date(oldest: dt.date | None) -> dt.date:
    """The date of an ``open`` bean-ponto writes for entries from ``oldest`` on."""
    return min(OPEN_DATE, oldest) if oldest is not None else OPEN_DATE


@dataclass
class NewEntries:
    """What one account's new transactions ask of the ledger.

    Attributes:
        oldest: the oldest entry date, None before any.
        newest: the newest entry date, None before any.
        currencies: every currency, with the first transaction id using it.
        too_precise: the first ``(transaction id, number)`` with too many digits.
    """

    oldest: dt.date | None = None
    newest: dt.date | None = None
    currencies: dict[str, str] = field(default_factory=dict)
    too_precise: tuple[str, Decimal] | None = None

    def add(self, tx_id: str, day: dt.date, currency: str, *numbers: Decimal | None) -> None:
        """Note one new transaction: its id, entry date, currency, amount (and fee)."""
        self.oldest = day if self.oldest is None else min(self.oldest, day)
        self.newest = day if self.newest is None else max(self.newest, day)
        self.currencies.setdefault(currency, tx_id)
        if self.too_precise is None:
            for number in numbers:
                if number is not None and digits(number) > MAX_DIGITS:
                    self.too_precise = (tx_id, number)
                    break


def check_account(
    scan: LedgerScan,
    opened_now: dict[str, dt.date],
    accounts: tuple[str, ...],
    new: NewEntries,
) -> None:
    """Refuse ``new`` if the ledger would reject any of it (see the module contract).

    Args:
        scan: the ledger's ``open``/``close`` directives and currency lists.
        opened_now: accounts bean-ponto opened in this run, with the open's date
            (no currency list).
        accounts: the accounts the entries post to (linked, counter).
        new: the account's new transactions.

    Raises:
        LedgerError: one line naming the problem and the fix.
    """
    if new.too_precise is not None:
        tx_id, number = new.too_precise
        raise LedgerError(
            f"Ponto sent transaction {tx_id} with amount {number}, {digits(number)} "
            f"significant digits, and Beancount keeps {MAX_DIGITS}: enter it by hand with "
            f'metadata ponto_id: "{tx_id}" (bean-ponto then skips it), or set start_date '
            f"after its date for this account in ponto.toml ({_NOTHING})"
        )
    for name in accounts:
        opened = opened_now.get(name, scan.opened_on.get(name))
        if opened is not None and new.oldest is not None and new.oldest < opened:
            raise LedgerError(
                f"new transactions from {new.oldest} predate `{opened} open {name}` in your "
                f"ledger; move that open earlier, or set start_date = {opened} for this "
                f"account in ponto.toml ({_NOTHING})"
            )
        closed = scan.closed_on.get(name)
        if closed is not None and new.newest is not None and new.newest >= closed:
            raise LedgerError(
                f"new transactions up to {new.newest} fall after `{closed} close {name}` in "
                f"your ledger; reopen the account or unlink it ({_NOTHING})"
            )
        allowed = None if name in opened_now else scan.currencies.get(name)
        refused = sorted(set(new.currencies) - allowed) if allowed is not None else []
        if refused:
            listed = ",".join(sorted(allowed or ()))
            raise LedgerError(
                f"new transactions in {', '.join(refused)} (e.g. {new.currencies[refused[0]]}) "
                f"are not allowed by `{opened} open {name} {listed}` in your ledger; "
                f"add {', '.join(refused)} to that open ({_NOTHING})"
            )


def balance_refusal(
    scan: LedgerScan, opened_now: dict[str, dt.date], account: str, currency: str, day: dt.date
) -> str | None:
    """Why the ledger would reject a ``balance`` of ``account`` in ``currency`` on ``day``.

    Returns:
        A note naming the fix, or None when the assertion is acceptable.
    """
    opened = opened_now.get(account, scan.opened_on.get(account))
    if opened is not None and day < opened:
        return f"no balance assertion on {day}: it predates `{opened} open {account}`"
    allowed = None if account in opened_now else scan.currencies.get(account)
    if allowed is not None and currency not in allowed:
        return (
            f"no balance assertion in {currency}: `{opened} open {account}` does not allow it; "
            f"add {currency} to that open"
        )
    return None
