"""Pending (not yet booked) transactions of the simulator, and their booking.

Contract, as real Ponto behaves:

* A pending transaction is listed under ``/accounts/{id}/pending-transactions``
  (type ``pendingTransaction``, the booked attribute set) and leaves the
  account's balance alone.
* Booking it takes it off that list and books a transaction with a **new id**
  (Ponto never reuses the pending id), possibly on a later day and for another
  amount (a card pre-authorisation settles for what the shop finally charged).
* Every function takes the state's lock itself; unknown account or pending ids
  raise :class:`KeyError`, bad amounts ``ValueError``/``TypeError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beancount_ponto.simulator.data import new_id
from beancount_ponto.simulator.jsonutil import dumps
from beancount_ponto.simulator.records import Txn
from beancount_ponto.simulator.state import to_amount

if TYPE_CHECKING:
    import datetime as dt

    from beancount_ponto.simulator.state import SimState

#: The bank's label of a pending card payment.
PENDING_DESCRIPTION = "Card payment (pending)"
#: The label once booked.
BOOKED_DESCRIPTION = "Card payment"


def add_pending(
    state: SimState,
    account_id: str,
    amount: object,
    *,
    execution_date: dt.date | None = None,
    attributes: dict[str, Any] | None = None,
    currency: str | None = None,
    txn_id: str | None = None,
) -> Txn:
    """Add a pending transaction (listed at once; the balance does not move).

    Args:
        state: the simulator state.
        account_id: the account.
        amount: signed amount (Decimal, int or numeric text; never a float).
        execution_date: its date, default the simulated today.
        attributes: more Ponto attributes by camelCase name (``counterpartName``...).
        currency: default the account's.
        txn_id: its id, default a new UUID.

    Returns:
        the new pending transaction.
    """
    value = to_amount(amount)
    with state.lock:
        account = state.account(account_id)
        day = execution_date or state.today()
        now = state.now()
        extra: dict[str, Any] = {"description": PENDING_DESCRIPTION, **(attributes or {})}
        dumps(extra)  # TypeError now (e.g. a float) rather than at serving time
        txn = Txn(
            id=txn_id or new_id(state.rng),
            amount=value,
            currency=currency or account.currency,
            execution_date=day,
            value_date=day,
            created_at=now,
            updated_at=now,
            extra=extra,
        )
        account.pending.add(txn)
        return txn


def book_pending(
    state: SimState,
    account_id: str,
    pending_id: str,
    *,
    execution_date: dt.date | None = None,
    amount: object = None,
) -> Txn:
    """Book a pending transaction: it leaves the pending list, a new booked one appears.

    Args:
        state: the simulator state.
        account_id: the account.
        pending_id: the pending transaction's id.
        execution_date: the booking day, default the pending one's.
        amount: the booked amount, default the pending one's.

    Returns:
        the booked transaction (a new id; the balance moves by its amount).

    Raises:
        KeyError: unknown account or pending id.
    """
    with state.lock:
        account = state.account(account_id)
        held = account.pending.get(pending_id)
        if held is None:
            raise KeyError(pending_id)
        attributes = dict(held.extra)
        description = attributes.pop("description", None)
        booked = state.add_transaction(
            account_id,
            held.amount if amount is None else amount,
            execution_date=execution_date or held.execution_date,
            value_date=held.value_date,
            description=BOOKED_DESCRIPTION
            if description in (None, PENDING_DESCRIPTION)
            else str(description),
            attributes=attributes,
            currency=held.currency,
        )
        account.pending.remove(pending_id)
        return booked
