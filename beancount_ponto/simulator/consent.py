"""How the simulated Ponto treats bank consents, as real Ponto does by default.

Contract:

* ``authorizationExpirationExpectedAt`` is only an expectation: after it Ponto
  keeps serving the stored data and its synchronizations keep succeeding,
  unless :attr:`ConsentSwitches.refuse_after_expiry` is set (then transaction
  reads answer 403 ``authorizationInvalid`` and synchronizations end in error).
* A revoked consent (:func:`revoke`) is what Ponto reports as a fact: the
  account's ``meta.latestSynchronization`` is an ``error`` with code
  ``authorizationInvalid`` and so is every later synchronization; the stored
  data is still served, unless the revocation was made with ``refuse_reads``.
* :func:`reauthorize` renews the consent for 180 days and, as Ponto does on a
  reauthorization, refreshes the account (a successful latest synchronization).
* :func:`revoke` and :func:`reauthorize` take the simulator state's lock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from beancount_ponto.simulator.data import new_id
from beancount_ponto.simulator.records import SyncRec

if TYPE_CHECKING:
    from beancount_ponto.simulator.records import AccountRec
    from beancount_ponto.simulator.state import SimState

AUTH_INVALID = (
    "The authorization is invalid, you should ask the customer to reauthorize the account"
)
RENEWAL = dt.timedelta(days=180)


@dataclass
class ConsentSwitches:
    """The consent habits in force.

    Attributes:
        refuse_after_expiry: Ponto refuses reads and synchronizations once the
            expected expiry has passed (not Ponto's real habit).
        revoked: account id -> whether reads are refused too, for revoked consents.
    """

    refuse_after_expiry: bool = False
    revoked: dict[str, bool] = field(default_factory=dict)

    def reads_refused(self, account: AccountRec, now: dt.datetime) -> bool:
        """True if transaction reads of ``account`` answer 403 ``authorizationInvalid``."""
        if self.revoked.get(account.id):
            return True
        return self.refuse_after_expiry and account.expires_at <= now

    def syncs_fail(self, account: AccountRec, now: dt.datetime) -> bool:
        """True if synchronizations of ``account`` end in ``authorizationInvalid``."""
        if account.id in self.revoked:
            return True
        return self.refuse_after_expiry and account.expires_at <= now


def consent_error() -> dict[str, object]:
    """The synchronization error of an invalid consent."""
    return {"code": "authorizationInvalid", "detail": AUTH_INVALID, "meta": {}}


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
