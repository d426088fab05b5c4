"""How the simulated Ponto treats bank consents, as real Ponto does by default.

Contract:

* ``authorizationExpirationExpectedAt`` is only an expectation: after it Ponto
  keeps serving the stored data and its synchronizations keep succeeding,
  unless :attr:`ConsentSwitches.refuse_after_expiry` is set (then transaction
  reads answer 403 ``authorizationInvalid`` and synchronizations end in error).
* A revoked consent (``revoke``) is what Ponto reports as a fact: the
  account's ``meta.latestSynchronization`` is an ``error`` with code
  ``authorizationInvalid`` and so is every later synchronization; the stored
  data is still served, unless the revocation was made with ``refuse_reads``.
* ``reauthorize`` renews the consent for 180 days and, as Ponto does on a
  reauthorization, refreshes the account (a successful latest synchronization).
* The acts on the state (:func:`~beancount_ponto.simulator.reauth.revoke`,
  :func:`~beancount_ponto.simulator.reauth.reauthorize`) are in
  :mod:`~beancount_ponto.simulator.reauth`, above the state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from beancount_ponto.simulator.records import AccountRec

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
