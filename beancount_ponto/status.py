"""The health of each linked account: consent, freshness, last runs.

Built from the saved state (offline) and, when given, Ponto's live account
list. Shared by ``bean-ponto status``, the runner and the Fava page, so they
all say the same thing. :meth:`LinkStatus.warnings` is what each of them warns
about: a consent needing attention (see :mod:`beancount_ponto.consent`) and
Ponto's data being stale (its last refresh from the bank, ``synchronizedAt``,
more than :data:`STALE_AFTER` ago).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from beancount_ponto.consent import (
    ConsentRefusal,
    ConsentStatus,
    consent_status,
    current_refusal,
)
from beancount_ponto.timeutil import to_iso

if TYPE_CHECKING:
    from decimal import Decimal

    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.ponto.models import Account
    from beancount_ponto.state import SyncState
    from beancount_ponto.state_schema import AccountState, DeepCheck

#: Ponto refreshes every account 4 times a day: a last refresh older than this is stale.
STALE_AFTER = dt.timedelta(hours=24)


def is_stale(synchronized_at: dt.datetime | None, now: dt.datetime) -> bool:
    """True if Ponto's last refresh from the bank is known and older than :data:`STALE_AFTER`."""
    return synchronized_at is not None and now - synchronized_at > STALE_AFTER


def stale_warning(synchronized_at: dt.datetime, now: dt.datetime) -> str:
    """The warning for stale data, naming the age and what to do."""
    hours = int((now - synchronized_at).total_seconds() // 3600)
    return (
        f"data is stale: Ponto last refreshed it from the bank {hours} hours ago "
        f"({synchronized_at.astimezone().strftime('%Y-%m-%d %H:%M')}); check the account "
        "in the Ponto dashboard, or use sync --refresh"
    )


@dataclass(frozen=True)
class LinkStatus:
    """What a person wants to know about one linked account."""

    ponto_id: str
    account: str
    reference: str
    currency: str
    consent: ConsentStatus
    balance: str | None
    balance_reference_date: dt.datetime | None
    ponto_synchronized_at: dt.datetime | None
    last_fetch: dt.datetime | None
    last_success: dt.datetime | None
    last_new: int | None
    failing_since: dt.datetime | None
    last_error: str | None
    balance_note: str | None
    live: bool
    deep_check: DeepCheck | None = None
    ponto_stale: bool = False

    def warnings(self, now: dt.datetime) -> list[str]:
        """What to warn about now: the consent, stale data (empty when all is well)."""
        out = [self.consent.describe()] if self.consent.needs_attention else []
        if self.ponto_stale and self.ponto_synchronized_at is not None:
            out.append(stale_warning(self.ponto_synchronized_at, now))
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO 8601 timestamps)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.datetime):
                out[key] = to_iso(value)
        refusal = self.consent.refusal
        out["consent"] = {
            "state": self.consent.state,
            "expires_at": to_iso(self.consent.expires_at),
            "days_left": self.consent.days_left,
            "text": self.consent.describe(),
            "refusal": refusal.to_json() if refusal else None,
        }
        out["deep_check"] = self.deep_check.to_json() if self.deep_check else None
        return out


@dataclass(frozen=True)
class AccountFacts:
    """What Ponto says of an account now, or else what the last sync saw of it."""

    reference: str
    currency: str
    description: str
    balance: Decimal | None
    balance_reference_date: dt.datetime | None
    consent_expires_at: dt.datetime | None
    synchronized_at: dt.datetime | None
    refusal: ConsentRefusal | None = None


def account_facts(
    account: Account | None, record: AccountState, link: AccountLink | None
) -> AccountFacts:
    """Merge the live account (when Ponto could be read) with the saved state record."""
    refusal = current_refusal(account, record.refusal)
    if account is not None:
        return AccountFacts(
            reference=account.reference,
            currency=account.currency,
            description=account.description,
            balance=account.current_balance,
            balance_reference_date=account.current_balance_reference_date,
            consent_expires_at=account.consent_expires_at,
            synchronized_at=account.synchronized_at,
            refusal=refusal,
        )
    return AccountFacts(
        reference=record.reference or (link.reference if link else ""),
        currency=record.currency or (link.currency if link else ""),
        description=record.description or "",
        balance=record.balance,
        balance_reference_date=record.balance_reference_date,
        consent_expires_at=record.consent_expires_at,
        synchronized_at=record.synchronized_at,
        refusal=refusal,
    )


def link_statuses(
    config: Config,
    state: SyncState,
    accounts: dict[str, Account] | None,
    now: dt.datetime,
) -> list[LinkStatus]:
    """One status per linked account, live data first, else what the state remembers."""
    result = []
    for link in config.links.values():
        record = state.known(link.ponto_id)
        account = (accounts or {}).get(link.ponto_id)
        facts = account_facts(account, record, link)
        result.append(
            LinkStatus(
                ponto_id=link.ponto_id,
                account=link.account,
                reference=facts.reference,
                currency=facts.currency,
                consent=consent_status(
                    facts.consent_expires_at, now, config.consent_warning_days, facts.refusal
                ),
                balance=None if facts.balance is None else str(facts.balance),
                balance_reference_date=facts.balance_reference_date,
                ponto_synchronized_at=facts.synchronized_at,
                last_fetch=record.last_fetch,
                last_success=record.health.last_success,
                last_new=record.last_new,
                failing_since=record.health.failing_since,
                last_error=record.health.last_error,
                balance_note=record.balance_mismatch,
                live=account is not None,
                deep_check=record.deep_check,
                ponto_stale=is_stale(facts.synchronized_at, now),
            )
        )
    return result
