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
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from beancount_ponto.consent import (
    ConsentRefusal,
    ConsentStatus,
    consent_status,
    current_refusal,
)
from beancount_ponto.deepcheck import DeepCheck, last_check
from beancount_ponto.timeutil import from_iso, now_utc, to_iso

if TYPE_CHECKING:
    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.ponto.models import Account
    from beancount_ponto.results import AccountResult
    from beancount_ponto.state import SyncState

#: Ponto refreshes every account 4 times a day: a last refresh older than this is stale.
STALE_AFTER = dt.timedelta(hours=24)
REFUSAL_KEY = "consent_refusal"


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
    account: Account | None, record: dict[str, Any], link: AccountLink | None
) -> AccountFacts:
    """Merge the live account (when Ponto could be read) with the saved state record."""
    refusal = current_refusal(account, ConsentRefusal.from_json(record.get(REFUSAL_KEY)))
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
    raw_balance = record.get("balance")
    return AccountFacts(
        reference=record.get("reference") or (link.reference if link else ""),
        currency=record.get("currency") or (link.currency if link else ""),
        description=record.get("description") or "",
        balance=Decimal(raw_balance) if isinstance(raw_balance, str) else None,
        balance_reference_date=from_iso(record.get("balance_reference_date")),
        consent_expires_at=from_iso(record.get("consent_expires_at")),
        synchronized_at=from_iso(record.get("synchronized_at")),
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
        record = state.accounts.get(link.ponto_id, {})
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
                last_fetch=from_iso(record.get("last_fetch")),
                last_success=from_iso(record.get("last_success")),
                last_new=record.get("last_new"),
                failing_since=from_iso(record.get("failing_since")),
                last_error=record.get("last_error"),
                balance_note=record.get("balance_mismatch"),
                live=account is not None,
                deep_check=last_check(record),
                ponto_stale=is_stale(facts.synchronized_at, now),
            )
        )
    return result


def record_outcome(
    record: dict[str, Any], ledger_account: str, account: Account | None, result: AccountResult
) -> None:
    """Write what a run saw of an account, and how it went, into its state record.

    The inverse of :func:`account_facts`; a failure starts (or extends)
    ``failing_since``, a complete success clears it. ``last_fetch`` moves only
    when the fetch worked: a failed attempt (an outage) is no fetch.
    """
    now = to_iso(now_utc())
    record["account"] = ledger_account
    if not result.error:
        record["last_fetch"] = now
    if account is not None:
        record.update(
            {
                "reference": account.reference,
                "currency": account.currency,
                "description": account.description,
                "consent_expires_at": to_iso(account.consent_expires_at),
                "synchronized_at": to_iso(account.synchronized_at),
                "balance": str(account.current_balance)
                if account.current_balance is not None
                else None,
                "balance_reference_date": to_iso(account.current_balance_reference_date),
            }
        )
    if result.refusal is not None:
        record[REFUSAL_KEY] = result.refusal.to_json()
    elif account is not None:  # Ponto was read and reports no refusal
        record.pop(REFUSAL_KEY, None)
    if result.error:
        record["last_error"] = result.error
        record.setdefault("failing_since", now)
        record["failures"] = int(record.get("failures", 0)) + 1
    elif not result.stopped:  # an interrupted walk is not a success yet
        record["last_success"] = now
        record["last_new"] = result.new
        for key in ("last_error", "failing_since", "failures"):
            record.pop(key, None)
