"""The ledger's own balance of accounts, for checking balance assertions first.

One full Beancount load of the ledger (the cost of ``bean-check``), done only
when Ponto reports a new balance reference date, never on idle runs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from beancount import loader
from beancount.core import data

if TYPE_CHECKING:
    from pathlib import Path

Key = tuple[str, str, dt.date]


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
    totals: dict[Key, Decimal] = {key: Decimal(0) for key in wanted}
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
