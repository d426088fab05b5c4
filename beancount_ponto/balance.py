"""Balance assertions from Ponto's current balance, written only when they hold.

Contract:

* Ponto reports one balance per account with its reference date; each
  (account, reference date) is *observed* into the account's state record.
* An observation becomes a *candidate* once its reference date is
  ``overlap_days`` old (a transaction delivered late with an older date could
  otherwise make it fail), is not yet in the ledger and was not checked yet.
* Candidates are checked against the ledger's own balance with one full
  Beancount load (the cost of ``bean-check``, never on idle runs) and only
  the ones that hold are written, dated the day after the reference date.
* If a transaction written later still breaks one of our assertions, that
  assertion is commented out with the reason in the same write as the
  transaction (:mod:`beancount_ponto.withdraw`), so the ledger keeps passing
  ``bean-check`` at every moment.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from beancount import loader
from beancount.core import data
from beancount.core.amount import Amount

from beancount_ponto.state_schema import BalanceObservation

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from beancount_ponto.state_schema import AccountState

Key = tuple[str, str, dt.date]
MAX_OBSERVATIONS = 20
META_KEY = "ponto_balance"


def observe(record: AccountState, entry: data.Balance | None) -> None:
    """Remember Ponto's balance (as a Balance entry) in an account's state record."""
    if entry is None or entry.amount.number is None:
        return
    observed = record.balance_observations
    observed[str(entry.meta[META_KEY])] = BalanceObservation(
        entry.date, entry.amount.number, entry.amount.currency
    )
    for stale in sorted(observed, key=lambda k: observed[k].date)[:-MAX_OBSERVATIONS]:
        del observed[stale]


def settled_candidates(
    record: AccountState,
    account: str,
    today: dt.date,
    overlap_days: int,
    is_known: Callable[[str], bool],
) -> list[data.Balance]:
    """Observations old enough to assert, not checked before and not ``is_known``.

    ``is_known`` (which may scan the ledger) is asked only about observations
    that passed the cheaper tests.
    """
    last_day = today - dt.timedelta(days=overlap_days - 1)
    checked = set(record.balances_checked)
    result = []
    observed = record.balance_observations
    for key, seen in sorted(observed.items(), key=lambda item: item[1].date):
        day = seen.date
        if day > last_day or key in checked or is_known(key):
            continue
        meta = data.new_metadata("<ponto>", 0, {META_KEY: key})
        amount = Amount(seen.number, seen.currency)
        result.append(data.Balance(meta, day, account, amount, None, None))
    return result


def mark_checked(record: AccountState, entry: data.Balance) -> None:
    """Remember that ``entry`` was compared with the ledger (never twice)."""
    checked = [*record.balances_checked, str(entry.meta[META_KEY])]
    record.balances_checked = checked[-MAX_OBSERVATIONS:]


def ledger_balances(ledger: Path, wanted: list[Key]) -> dict[Key, Decimal]:
    """The balance of each (account, currency) at the start of each date.

    Args:
        ledger: the main ledger file.
        wanted: ``(account, currency, date)`` triples; the balance counts postings
            dated strictly before ``date``, as a Beancount ``balance`` does
            (sub-accounts included).

    Returns:
        the balance of every wanted triple (0 when nothing is posted).
    """
    entries, _errors, _options = loader.load_file(str(ledger))
    totals: dict[Key, Decimal] = dict.fromkeys(wanted, Decimal(0))
    for entry in entries:
        if not isinstance(entry, data.Transaction):
            continue
        for posting in entry.postings:
            units = posting.units
            if units is None or not isinstance(units.number, Decimal):
                continue
            for key in wanted:
                account, currency, date = key
                if (
                    entry.date < date
                    and units.currency == currency
                    and (posting.account == account or posting.account.startswith(account + ":"))
                ):
                    totals[key] += units.number
    return totals


def mismatch_note(entry: data.Balance, have: Decimal) -> str:
    """Why ``entry`` was not written: the ledger holds ``have`` instead."""
    bank = entry.amount.number
    assert isinstance(bank, Decimal)
    return (
        f"bank balance {bank} {entry.amount.currency} on "
        f"{entry.date - dt.timedelta(days=1)} differs from the ledger's {have} "
        f"by {bank - have}; no balance assertion written (add an opening balance?)"
    )
