"""Revoking and renewing a consent at the simulated bank (see :mod:`.consent`).

Contract: :func:`revoke` and :func:`reauthorize` take the simulator state's
lock and leave a finished background synchronization as the account's latest,
as Ponto does.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from beancount_ponto.simulator.consent import RENEWAL, consent_error
from beancount_ponto.simulator.data import new_id
from beancount_ponto.simulator.records import SyncRec

if TYPE_CHECKING:
    from beancount_ponto.simulator.records import AccountRec
    from beancount_ponto.simulator.state import SimState


def _background_sync(state: SimState, account: AccountRec, status: str) -> SyncRec:
    """A finished synchronization Ponto made by itself; it becomes the account's latest."""
    now = state.now()
    sync = SyncRec(
        id=new_id(state.rng),
        account_id=account.id,
        subtype="accountTransactions",
        customer_ip="",
        created_at=now - dt.timedelta(seconds=2),
        updated_at=now,
        status=status,
        errors=[consent_error()] if status == "error" else [],
    )
    state.syncs[sync.id] = sync
    account.latest_sync = sync
    return sync


def revoke(state: SimState, account_id: str, *, refuse_reads: bool = False) -> None:
    """Revoke the consent of ``account_id`` at the bank (see the module contract).

    Raises:
        KeyError: unknown account.
    """
    with state.lock:
        account = state.account(account_id)
        state.consent.revoked[account_id] = refuse_reads
        _background_sync(state, account, "error")


def reauthorize(state: SimState, account_id: str) -> None:
    """Renew the consent of ``account_id`` for 180 days and refresh the account.

    Raises:
        KeyError: unknown account.
    """
    with state.lock:
        account = state.account(account_id)
        state.consent.revoked.pop(account_id, None)
        now = state.now()
        account.authorized_at = now
        account.expires_at = now + RENEWAL
        _background_sync(state, account, "success")
        account.synchronized_at = now
