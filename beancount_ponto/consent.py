"""The state of a PSD2 bank consent, said the same way everywhere.

Banks require the account holder to renew their consent every 90 to 180
days; Ponto reports when it is expected to expire
(``authorizationExpirationExpectedAt``). The CLI, the runner, the Fava page
and the Beancount plugin all classify it with :func:`consent_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from beancount_ponto.errors import ConsentExpiredError

if TYPE_CHECKING:
    from beancount_ponto.models import Account
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

RENEW_URL = "https://dashboard.myponto.com"
DEFAULT_WARNING_DAYS = 30


@dataclass(frozen=True)
class ConsentStatus:
    """A consent's state: ``ok``, ``expiring``, ``expired`` or ``unknown``."""

    state: str
    expires_at: dt.datetime | None
    days_left: int | None

    @property
    def expires_day(self) -> dt.date | None:
        """The day it expires, in the machine's time zone (not UTC's calendar)."""
        return self.expires_at.astimezone().date() if self.expires_at else None

    def describe(self) -> str:
        """One line for people, e.g. ``expires 2025-01-31 (12 days left)``."""
        if self.expires_at is None or self.days_left is None:
            return "consent expiry unknown"
        day = self.expires_day.isoformat() if self.expires_day else "?"
        if self.state == "expired":
            return f"consent EXPIRED on {day}: renew it in Ponto ({RENEW_URL})"
        text = f"consent expires {day} ({self.days_left} days left)"
        if self.state == "expiring":
            text += f": renew it soon in Ponto ({RENEW_URL})"
        return text


def consent_status(
    expires_at: dt.datetime | None,
    now: dt.datetime,
    warning_days: int = DEFAULT_WARNING_DAYS,
) -> ConsentStatus:
    """Classify a consent expiry at ``now`` (both aware datetimes).

    ``expiring`` means ``warning_days`` days or fewer are left.
    """
    if expires_at is None:
        return ConsentStatus("unknown", None, None)
    seconds = (expires_at - now).total_seconds()
    days = int(seconds // 86400)
    if seconds <= 0:
        return ConsentStatus("expired", expires_at, min(days, 0))
    return ConsentStatus("expiring" if days <= warning_days else "ok", expires_at, days)


def check_consent(account: Account, now: dt.datetime) -> None:
    """Refuse to fetch an account whose consent has expired.

    Raises:
        ConsentExpiredError: with what to do about it.
    """
    expires = account.consent_expires_at
    if expires is not None and expires <= now:
        raise ConsentExpiredError(
            403,
            code="authorizationExpired",
            message=f"the bank consent for {account.reference or account.id} expired on "
            f"{expires.astimezone().date()}; reauthorize the account in the Ponto dashboard "
            f"({RENEW_URL}), then sync again",
        )
