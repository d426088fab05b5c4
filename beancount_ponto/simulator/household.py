"""The simulator's ``household`` data set: a Belgian household's year, for the demo.

Contract:

* :func:`household_items` is deterministic for ``seed`` and ``today``: two
  years of one household's bank life up to ``today`` (the history of
  :func:`~.history.household_history`, noisy texts included, at half its
  density), on three accounts: (0) EUR checking (salary, rent, groceries,
  utilities, card payments), (1) EUR savings (the checking account's monthly
  savings transfers, whose counterpart IBAN is the other account's, and yearly
  interest), (2) USD account (dividends, a few online purchases). Each item
  says how its user booked it. A transaction keeps its id whatever ``today``
  is (ids derive from the seed and the item, not from the window).
* The simulator serves the last :data:`SERVED_DAYS` days (:func:`build_accounts`);
  :func:`earlier_bookings` are the items before that, as the user booked them,
  without the savings halves of transfers (the checking half books both legs).
  Each account's balance is the sum of all its items in the two years, so a
  ledger holding the earlier bookings and the synced year matches it.
* Two pending card payments, dated ``today``, wait on the checking account.
* :func:`grown_txn` is one new realistic item (a shop card payment on checking).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from beancount_ponto.ponto.models import Transaction
from beancount_ponto.simulator.catalog import belgian_bban, iban
from beancount_ponto.simulator.data import build_accounts as build_default_accounts
from beancount_ponto.simulator.data import new_id
from beancount_ponto.simulator.history import (
    BRUSSELS,
    SHOPS,
    TOWNS,
    Booked,
    _Maker,
    household_history,
)
from beancount_ponto.simulator.jsonutil import local_midnight, truncate_ms
from beancount_ponto.simulator.records import AccountRec, Txn, TxnList

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = [
    "ACCOUNT_IBANS",
    "SERVED_DAYS",
    "HouseholdItem",
    "build_accounts",
    "earlier_bookings",
    "grown_txn",
    "household_items",
]

SERVED_DAYS = 365
WINDOW_DAYS = 2 * SERVED_DAYS
FIRST_YEAR = 2020  # a fixed start keeps every item's id whatever today is
SCALE = 0.5
HOLDER = "Els Martens"
#: The IBANs of checking, savings and the dollar account.
ACCOUNT_IBANS = (
    iban("BE", belgian_bban(7350042713)),
    iban("BE", belgian_bban(12345678)),
    iban("BE", belgian_bban(3631199870)),
)
HISTORY_SAVINGS_IBAN = "BE12 0012 3456 7890"  # as history.py names the savings account
ACCOUNTS = ("Assets:Bank:Checking", "Assets:Bank:Savings", "Assets:Bank:Dollars")


@dataclass(frozen=True)
class HouseholdItem:
    """One of the household's bank transactions.

    Attributes:
        account: the account's index (0 checking, 1 savings, 2 dollars).
        booked: the transaction as Ponto serves it and how the user booked it.
        mirror: the savings half of a transfer already booked by its checking half.
    """

    account: int
    booked: Booked
    mirror: bool = False

    @property
    def day(self) -> dt.date:
        """The booking day in Brussels."""
        return self.booked.transaction.execution_date.astimezone(BRUSSELS).date()


def _id(seed: int, *parts: object) -> str:
    return new_id(random.Random(":".join(["ponto-sim", str(seed), "household", *map(str, parts)])))


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=BRUSSELS)


def _checking(seed: int, first: dt.date, today: dt.date) -> list[HouseholdItem]:
    out: list[HouseholdItem] = []
    history = household_history(
        seed=seed, first_year=FIRST_YEAR, years=today.year - FIRST_YEAR + 1, scale=SCALE
    )
    for item in history:
        tx = item.transaction
        day = tx.execution_date.astimezone(BRUSSELS).date()
        if not first <= day <= today:
            continue
        tx = dataclasses.replace(tx, id=_id(seed, tx.id))
        label = item.label
        if tx.counterpart_reference == HISTORY_SAVINGS_IBAN:
            tx = dataclasses.replace(tx, counterpart_reference=ACCOUNT_IBANS[1])
            label = ACCOUNTS[1]
            mirror = Transaction(
                id=_id(seed, item.transaction.id, "savings"),
                amount=-tx.amount,
                currency="EUR",
                execution_date=tx.execution_date,
                counterpart_name=HOLDER,
                counterpart_reference=ACCOUNT_IBANS[0],
                remittance_information=tx.remittance_information,
                description="Overschrijving",
            )
            out.append(HouseholdItem(1, Booked(mirror, ACCOUNTS[0]), mirror=True))
        elif label == ACCOUNTS[1]:  # history's noise: not a transfer, so not on savings
            label = "Expenses:Household"
        out.append(HouseholdItem(0, Booked(tx, label)))
    return out


def _savings_interest(seed: int, first: dt.date, today: dt.date) -> list[HouseholdItem]:
    out = []
    for year in range(first.year + 1, today.year + 1):
        rng = random.Random(f"ponto-sim:{seed}:household:interest:{year}")
        tx = Transaction(
            id=_id(seed, "interest", year),
            amount=Decimal(f"{rng.uniform(8, 30):.2f}"),
            currency="EUR",
            execution_date=_at(dt.date(year, 1, 1)),
            remittance_information=f"Intrest en getrouwheidspremie {year - 1}",
            description="Interest",
        )
        out.append(HouseholdItem(1, Booked(tx, "Income:Interest")))
    return out


def _dollars(seed: int, first: dt.date, today: dt.date) -> list[HouseholdItem]:
    out: list[HouseholdItem] = []

    def add(day: dt.date, amount: str, label: str, key: str, **fields: str) -> None:
        if first <= day <= today:
            tx = Transaction(
                id=_id(seed, "usd", day, key),
                amount=Decimal(amount),
                currency="USD",
                execution_date=_at(day),
                **fields,  # type: ignore[arg-type]
            )
            out.append(HouseholdItem(2, Booked(tx, label)))

    add(first, "1500.00", "Equity:Opening-Balances", "open", counterpart_name=HOLDER,
        remittance_information="Naar dollarrekening", description="Overschrijving")  # fmt: skip
    month = dt.date(first.year, first.month, 1)
    while month <= today:
        rng = random.Random(f"ponto-sim:{seed}:household:usd:{month}")
        add(month.replace(day=7), "-2.99", "Expenses:Subscriptions:Cloud", "apple",
            counterpart_name="APPLE.COM/BILL", remittance_information="APPLE.COM/BILL ITUNES.COM",
            description="Card payment")  # fmt: skip
        if month.month % 3 == 0:
            add(month.replace(day=16), f"{rng.uniform(40, 90):.2f}", "Income:Dividends", "div",
                counterpart_name="Vanguard Group Inc",
                remittance_information=f"DIVIDEND VTI Q{month.month // 3} {month.year}",
                description="Dividend")  # fmt: skip
        if rng.random() < 0.5:
            add(month.replace(day=rng.randint(1, 28)), f"-{rng.uniform(12, 80):.2f}",
                "Expenses:Household", "amazon", counterpart_name="AMAZON.COM",
                remittance_information="AMAZON.COM AMZN.COM/BILL WA",
                description="Card payment")  # fmt: skip
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def household_items(seed: int, today: dt.date) -> list[HouseholdItem]:
    """All items of the two years up to ``today``, oldest first (see module doc)."""
    first = today - dt.timedelta(days=WINDOW_DAYS - 1)
    items = (
        _checking(seed, first, today)
        + _savings_interest(seed, first, today)
        + _dollars(seed, first, today)
    )
    items.sort(key=lambda i: (i.day, i.account, i.booked.transaction.id))
    return items


def earlier_bookings(seed: int, today: dt.date) -> list[HouseholdItem]:
    """The items the user booked before the served year (mirrors left out), oldest first."""
    cutoff = today - dt.timedelta(days=SERVED_DAYS)
    return [i for i in household_items(seed, today) if i.day <= cutoff and not i.mirror]


def _created(rng: random.Random, day: dt.date, zone: ZoneInfo, ceiling: dt.datetime) -> dt.datetime:
    midnight = local_midnight(day, zone)
    created = midnight + dt.timedelta(minutes=rng.randint(60, 660))
    return truncate_ms(max(midnight + dt.timedelta(seconds=1), min(created, ceiling)))


def _extra(tx: Transaction) -> dict[str, Any]:
    if tx.counterpart_reference is None and tx.amount < 0:
        code = "PMNT-CCRD-POSD"
    elif tx.amount > 0:
        code = "PMNT-RCDT-ESCT"
    else:
        code = "PMNT-RDDT-ESDD" if tx.description == "Domiciliering" else "PMNT-ICDT-ESCT"
    extra = {
        "description": tx.description,
        "counterpartName": tx.counterpart_name,
        "counterpartReference": tx.counterpart_reference,
        "remittanceInformation": tx.remittance_information,
        "bankTransactionCode": code,
    }
    return {key: value for key, value in extra.items() if value is not None}


def _txn(tx: Transaction, rng: random.Random, zone: ZoneInfo, ceiling: dt.datetime) -> Txn:
    day = tx.execution_date.astimezone(BRUSSELS).date()
    created = _created(rng, day, zone, ceiling)
    return Txn(tx.id, tx.amount, tx.currency, day, day, created, created, _extra(tx))


def grown_txn(
    rng: random.Random, currency: str, day: dt.date, created_at: dt.datetime, *, profile: str
) -> Txn:
    """One new realistic transaction booked on ``day``.

    A card payment at a shop (checking), a small interest credit (savings) or an
    online purchase (foreign currency), drawn from ``rng``.
    """
    if profile == "checking":
        names, legal, _, typical, _ = rng.choices(SHOPS, weights=[s[4] for s in SHOPS])[0]
        maker = _Maker(rng)
        fields = maker.card_payment(day, rng.choice(names), legal, rng.choice(TOWNS))
        tx = Transaction(
            id=new_id(rng),
            amount=maker.amount(typical, -1),
            currency=currency,
            execution_date=_at(day),
            **fields,  # type: ignore[arg-type]
        )
    elif profile == "savings":
        tx = Transaction(new_id(rng), Decimal(f"{rng.uniform(0.5, 3):.2f}"), currency, _at(day),
                         remittance_information="Intrest", description="Interest")  # fmt: skip
    else:
        tx = Transaction(new_id(rng), Decimal(f"-{rng.uniform(12, 80):.2f}"), currency, _at(day),
                         counterpart_name="AMAZON.COM", description="Card payment",
                         remittance_information="AMAZON.COM AMZN.COM/BILL WA")  # fmt: skip
    return Txn(tx.id, tx.amount, currency, day, day, created_at, created_at, _extra(tx))


def build_accounts(
    seed: int, today: dt.date, zone: ZoneInfo, now: dt.datetime
) -> list[tuple[AccountRec, random.Random]]:
    """The household's three accounts serving the last :data:`SERVED_DAYS` days.

    Same contract as :func:`~.data.build_accounts` (consents, synchronizations,
    one generator per account), with the items of :func:`household_items`.
    """
    pairs = build_default_accounts(seed, [0, 0, 0], today, zone, now)
    items = household_items(seed, today)
    cutoff = today - dt.timedelta(days=SERVED_DAYS)
    ceiling = truncate_ms(now - dt.timedelta(hours=1))
    for index, (account, rng) in enumerate(pairs):
        mine = [i for i in items if i.account == index]
        txns = [_txn(i.booked.transaction, rng, zone, ceiling) for i in mine if i.day > cutoff]
        account.txns = TxnList(txns)
        account.balance = sum((i.booked.transaction.amount for i in mine), Decimal("0.00"))
        account.balance_changed_at = max((t.created_at for t in txns), default=ceiling)
        account.reference = ACCOUNT_IBANS[index]
        account.holder_name = HOLDER
        pending = []
        if index == 0:
            for n in range(2):
                created = _created(rng, today, zone, ceiling)
                pending.append(grown_txn(rng, "EUR", today, created, profile="checking"))
                pending[-1].id = _id(seed, "pending", today, n)
                pending[-1].extra["description"] = "Card payment (pending)"
        account.pending = TxnList(pending)
    return pairs
