"""The state of a PSD2 bank consent, as Ponto reports it, said the same way everywhere.

Banks require the account holder to renew their consent every 90 to 180
days. Ponto gives an *expected* expiry (``authorizationExpirationExpectedAt``)
and keeps serving its stored data after it; what it reports as a fact is a
refusal: an account's ``meta.latestSynchronization`` in ``error`` with a
consent code such as ``authorizationInvalid`` (revoked or invalid consent),
or an error answer with such a code. The CLI, the runner and the Fava page
all classify a consent with :func:`consent_status`:

* ``revoked``: Ponto reports the consent invalid (a :class:`ConsentRefusal`);
  the user must reauthorize the account in the Ponto dashboard.
* ``expected_passed``: the expected expiry passed, Ponto has not refused yet.
* ``expiring``: ``warning_days`` days or fewer are left.
* ``ok``, or ``unknown`` when Ponto gives no date.

Nothing here refuses to fetch: fetching what Ponto serves is harmless.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from beancount_ponto.i18n import _
from beancount_ponto.ponto.responses import CONSENT_ERROR_CODES

if TYPE_CHECKING:
    from beancount_ponto.errors import ApiError
    from beancount_ponto.ponto.models import Account

RENEW_URL = "https://dashboard.myponto.com"
DEFAULT_WARNING_DAYS = 30

ConsentState = Literal["ok", "expiring", "expected_passed", "revoked", "unknown"]
#: The states every channel warns about (status, runner log and notify, Fava page).
WARNING_STATES: frozenset[ConsentState] = frozenset({"expiring", "expected_passed", "revoked"})
RefusalSource = Literal["synchronization", "answer"]


@dataclass(frozen=True)
class ConsentRefusal:
    """Ponto's own word that an account's consent is invalid (revoked, or ended at the bank).

    Attributes:
        code: Ponto's error code, e.g. ``authorizationInvalid``.
        detail: Ponto's error text, if any.
        seen_at: when Ponto reported it (the synchronization's ``updatedAt``, or
            the time of the refused request).
        source: ``synchronization`` (``latestSynchronization`` or a refresh) or
            ``answer`` (an error answer to a request).
    """

    code: str
    detail: str | None
    seen_at: dt.datetime | None
    source: RefusalSource

    def describe(self) -> str:
        """One line for people, naming the fix."""
        return _(
            "Ponto reports the bank consent revoked or invalid (%(code)s): "
            "reauthorize this account in the Ponto dashboard (%(url)s)",
            code=self.code,
            url=RENEW_URL,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, as kept in the sync state."""
        return {
            "code": self.code,
            "detail": self.detail,
            "seen_at": self.seen_at.isoformat() if self.seen_at else None,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, value: object) -> ConsentRefusal | None:
        """The inverse of :meth:`to_json`; None for anything else."""
        if not isinstance(value, dict) or not isinstance(value.get("code"), str):
            return None
        seen = value.get("seen_at")
        detail = value.get("detail")
        return cls(
            code=value["code"],
            detail=detail if isinstance(detail, str) else None,
            seen_at=dt.datetime.fromisoformat(seen) if isinstance(seen, str) else None,
            source="answer" if value.get("source") == "answer" else "synchronization",
        )


def refusal_of(account: Account) -> ConsentRefusal | None:
    """The refusal Ponto reports in the account's ``meta.latestSynchronization``, if any."""
    latest = account.latest_synchronization
    if latest is None or latest.status != "error":
        return None
    for error in latest.errors:
        if error.code in CONSENT_ERROR_CODES:
            return ConsentRefusal(error.code, error.detail, latest.updated_at, "synchronization")
    return None


def refusal_from_error(error: ApiError, now: dt.datetime) -> ConsentRefusal:
    """The refusal an error answer with a consent code stands for."""
    return ConsentRefusal(error.code or "authorizationInvalid", error.detail, now, "answer")


def current_refusal(
    account: Account | None, remembered: ConsentRefusal | None
) -> ConsentRefusal | None:
    """What holds now: the live account's refusal, else a remembered one still unanswered.

    A remembered refusal of an answer (Ponto refused a read) stands until
    Ponto reports a newer successful refresh (as after a reauthorization);
    without live data the remembered one stands.
    """
    if account is None:
        return remembered
    live = refusal_of(account)
    if live is not None or remembered is None or remembered.source != "answer":
        return live
    latest = account.latest_synchronization
    newer = (
        latest is not None
        and latest.status == "success"
        and latest.updated_at is not None
        and remembered.seen_at is not None
        and latest.updated_at > remembered.seen_at
    )
    return None if newer else remembered


@dataclass(frozen=True)
class ConsentStatus:
    """A consent's state (see the module docstring)."""

    state: ConsentState
    expires_at: dt.datetime | None
    days_left: int | None
    refusal: ConsentRefusal | None = None

    @property
    def expires_day(self) -> dt.date | None:
        """The day it expires, in the machine's time zone (not UTC's calendar)."""
        return self.expires_at.astimezone().date() if self.expires_at else None

    @property
    def needs_attention(self) -> bool:
        """True for the states every channel warns about."""
        return self.state in WARNING_STATES

    def describe(self) -> str:
        """One line for people, e.g. ``consent expires 2025-01-31 (12 days left)``.

        In English, except on the Fava page in Dutch or French (:mod:`beancount_ponto.i18n`).
        """
        if self.refusal is not None:
            return _("consent REVOKED: %(problem)s", problem=self.refusal.describe())
        if self.expires_at is None or self.days_left is None:
            return _("consent expiry unknown")
        day = self.expires_day.isoformat() if self.expires_day else "?"
        if self.state == "expected_passed":
            return _(
                "consent was expected to expire on %(day)s; Ponto still serves data until "
                "the bank refuses: reauthorize this account in the Ponto dashboard (%(url)s)",
                day=day,
                url=RENEW_URL,
            )
        if self.state == "expiring":
            return _(
                "consent expires %(day)s (%(days)s days left): renew it soon in Ponto (%(url)s)",
                day=day,
                days=self.days_left,
                url=RENEW_URL,
            )
        return _("consent expires %(day)s (%(days)s days left)", day=day, days=self.days_left)


def consent_status(
    expires_at: dt.datetime | None,
    now: dt.datetime,
    warning_days: int = DEFAULT_WARNING_DAYS,
    refusal: ConsentRefusal | None = None,
) -> ConsentStatus:
    """Classify a consent at ``now`` (aware datetimes); a refusal makes it ``revoked``.

    ``expiring`` means ``warning_days`` days or fewer are left.
    """
    if expires_at is None:
        return ConsentStatus("revoked" if refusal else "unknown", None, None, refusal)
    seconds = (expires_at - now).total_seconds()
    days = int(seconds // 86400)
    if refusal is not None:
        return ConsentStatus("revoked", expires_at, days, refusal)
    if seconds <= 0:
        return ConsentStatus("expected_passed", expires_at, min(days, 0))
    return ConsentStatus("expiring" if days <= warning_days else "ok", expires_at, days)
