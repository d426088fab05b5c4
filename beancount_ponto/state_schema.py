"""The schema of the state file: small typed records, each with ``from_json``/``to_json``.

Contract:

* The file is ``{"version": 2, "accounts": {id: AccountState}, "runs":
  [RunRecord], "pending": [id], "runner": RunnerState, "includes": {...},
  "recheck_balances": bool}``. Version 1 (and the files written before the
  version field) kept the same per-account and per-run keys, with the runner,
  the include cache and the recheck flag under ``"extra"``; :func:`migrate`
  lifts those, so every file users have loads.
* ``from_json`` is strict about types: a value of the wrong type raises
  :class:`SchemaError` naming its field (``accounts.<id>.last_fetch``), which
  :class:`~beancount_ponto.state.SyncState` turns into one line naming the
  file. Keys it does not know are dropped; a missing key takes its default.
* ``to_json`` writes the same keys, so a file round-trips.
* Success and failure are recorded in one place: :meth:`Health.succeeded` /
  :meth:`Health.failed`, used for accounts and for the runner alike.
* The runner's record and the run history are in :mod:`beancount_ponto.state_runs`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from beancount_ponto.consent import ConsentRefusal
from beancount_ponto.i18n import _
from beancount_ponto.jsonread import JsonObject, SchemaError
from beancount_ponto.timeutil import from_iso, now_utc, to_iso

if TYPE_CHECKING:
    from beancount_ponto.ponto.models import Account
    from beancount_ponto.results import AccountResult

SCHEMA_VERSION = 2
#: Why a deep check ran.
Trigger = Literal["full", "daily", "mismatch"]
#: What the balance comparison after a deep check found.
Verdict = Literal["agrees", "differs", "unchecked"]


@dataclass(frozen=True)
class DeepCheck:
    """The outcome of one deep check of one account.

    Attributes:
        at: when it ran (aware UTC).
        trigger: why it ran.
        pages: pages read.
        seen: transactions read.
        missing: transactions it found missing and brought in.
        balance: the verdict of the balance comparison.
        balance_note: the figures behind the verdict (or why unchecked).
        mismatch: the balance mismatch note it answered, if any (so that one
            mismatch causes one deep check, not one per run).
    """

    at: dt.datetime
    trigger: Trigger
    pages: int
    seen: int
    missing: int
    balance: Verdict
    balance_note: str | None = None
    mismatch: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ISO 8601 time)."""
        return {
            "at": to_iso(self.at),
            "trigger": self.trigger,
            "pages": self.pages,
            "seen": self.seen,
            "missing": self.missing,
            "balance": self.balance,
            "balance_note": self.balance_note,
            "mismatch": self.mismatch,
        }

    @classmethod
    def from_json(cls, raw: object) -> DeepCheck | None:
        """Read what :meth:`to_json` wrote; None for anything else."""
        if not isinstance(raw, dict):
            return None
        at = from_iso(raw.get("at"))
        trigger, verdict = raw.get("trigger"), raw.get("balance")
        counts = [raw.get(k) for k in ("pages", "seen", "missing")]
        if (
            at is None
            or trigger not in get_args(Trigger)
            or verdict not in get_args(Verdict)
            or not all(isinstance(c, int) for c in counts)
        ):
            return None
        note, mismatch = raw.get("balance_note"), raw.get("mismatch")
        return cls(
            at=at,
            trigger=cast("Trigger", trigger),
            pages=int(raw["pages"]),
            seen=int(raw["seen"]),
            missing=int(raw["missing"]),
            balance=cast("Verdict", verdict),
            balance_note=note if isinstance(note, str) else None,
            mismatch=mismatch if isinstance(mismatch, str) else None,
        )

    def describe(self) -> str:
        """One line for people, without the time (English but on a Dutch or French Fava page)."""
        found = (
            _("%(count)s missing brought in", count=self.missing)
            if self.missing
            else _("nothing missing")
        )
        verdict = {
            "agrees": _("bank balance agrees with the ledger"),
            "differs": _("bank balance DIFFERS from the ledger"),
            "unchecked": _("balance not compared"),
        }[self.balance]
        note = f" ({self.balance_note})" if self.balance_note and self.balance != "agrees" else ""
        read = _("read %(seen)s in %(pages)s pages", seen=self.seen, pages=self.pages)
        return f"{read}, {found}; {verdict}{note}"


@dataclass
class Health:
    """Success and failure of something that runs again and again (an account, the runner).

    Attributes:
        last_success: when it last worked.
        failing_since: the first failure of the current streak (None: not failing).
        last_error: the message of the last failure of the streak.
        failures: failures in a row.
    """

    last_success: dt.datetime | None = None
    failing_since: dt.datetime | None = None
    last_error: str | None = None
    failures: int = 0

    def succeeded(self, at: dt.datetime) -> None:
        """Record a success at ``at``: the failure streak ends."""
        self.last_success = at
        self.failing_since, self.last_error, self.failures = None, None, 0

    def failed(self, at: dt.datetime, error: str) -> None:
        """Record a failure at ``at``: it starts or extends the streak."""
        self.failing_since = self.failing_since or at
        self.last_error = error
        self.failures += 1

    @classmethod
    def read(cls, obj: JsonObject) -> Health:
        """The health keys of a record (they sit flat in it)."""
        return cls(
            last_success=obj.instant("last_success"),
            failing_since=obj.instant("failing_since"),
            last_error=obj.text("last_error"),
            failures=obj.integer("failures") or 0,
        )

    def to_json(self) -> dict[str, Any]:
        """The flat keys (a streak's keys only while failing)."""
        out: dict[str, Any] = {"last_success": to_iso(self.last_success)}
        if self.failing_since is not None:
            out |= {
                "failing_since": to_iso(self.failing_since),
                "last_error": self.last_error,
                "failures": self.failures,
            }
        return out


@dataclass
class BalanceObservation:
    """One balance Ponto reported: its date (the day after the reference date) and amount."""

    date: dt.date
    number: Decimal
    currency: str

    @classmethod
    def from_json(cls, raw: object, where: str) -> BalanceObservation:
        """Read what :meth:`to_json` wrote."""
        obj = JsonObject(raw, where)
        day, number, currency = obj.text("date"), obj.text("number"), obj.text("currency")
        try:
            if day is None or number is None or currency is None:
                raise ValueError
            return cls(dt.date.fromisoformat(day), Decimal(number), currency)
        except (ValueError, InvalidOperation):
            raise SchemaError(where, "a balance (date, number, currency)") from None

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {
            "date": self.date.isoformat(),
            "number": str(self.number),
            "currency": self.currency,
        }


@dataclass
class AccountState:
    """What bean-ponto remembers of one Ponto account.

    Attributes:
        account: the ledger account it was last synced to.
        last_fetch: the last time its transactions were read.
        last_new: how many new transactions the last successful run wrote.
        health: success and failure of its syncs.
        reference, currency, description: as Ponto last reported them.
        balance, balance_reference_date: Ponto's last reported balance.
        consent_expires_at, synchronized_at: Ponto's expected consent expiry,
            and when Ponto last refreshed the account from the bank.
        refusal: Ponto's last word that the consent is invalid, if any.
        sync_requested_at: when bean-ponto last asked Ponto to refresh it.
        bank_time_zone: the bank's zone ("" when the bank names none; None
            when not asked yet); bank_name: the bank's name.
        balance_observations: balances seen, by ``ponto_balance`` key.
        balances_checked: the keys already compared with the ledger.
        balance_mismatch: the last balance difference found, if any.
        asserted_until: the latest date of our balance assertions.
        deep_check: the last deep check.
    """

    account: str | None = None
    last_fetch: dt.datetime | None = None
    last_new: int | None = None
    health: Health = field(default_factory=Health)
    reference: str | None = None
    currency: str | None = None
    description: str | None = None
    balance: Decimal | None = None
    balance_reference_date: dt.datetime | None = None
    consent_expires_at: dt.datetime | None = None
    synchronized_at: dt.datetime | None = None
    refusal: ConsentRefusal | None = None
    sync_requested_at: dt.datetime | None = None
    bank_time_zone: str | None = None
    bank_name: str | None = None
    balance_observations: dict[str, BalanceObservation] = field(default_factory=dict)
    balances_checked: list[str] = field(default_factory=list)
    balance_mismatch: str | None = None
    asserted_until: dt.date | None = None
    deep_check: DeepCheck | None = None

    def saw(self, ledger_account: str, account: Account | None, result: AccountResult) -> None:
        """Record what one run saw of the account and how it went.

        ``last_fetch`` moves only when the fetch worked (an outage is no
        fetch); an interrupted walk is no success yet; a refusal Ponto no
        longer reports is forgotten.
        """
        now = now_utc().replace(microsecond=0)
        self.account = ledger_account
        if not result.error:
            self.last_fetch = now
        if account is not None:
            self.reference, self.currency = account.reference, account.currency
            self.description = account.description
            self.consent_expires_at = account.consent_expires_at
            self.synchronized_at = account.synchronized_at
            self.balance = account.current_balance
            self.balance_reference_date = account.current_balance_reference_date
        if result.refusal is not None:
            self.refusal = result.refusal
        elif account is not None:
            self.refusal = None
        if result.error:
            self.health.failed(now, result.error)
        elif not result.stopped:
            self.health.succeeded(now)
            self.last_new = result.new

    @classmethod
    def from_json(cls, raw: object, where: str) -> AccountState:
        """Read what :meth:`to_json` wrote (version 1 wrote the same keys)."""
        obj = JsonObject(raw, where)
        balance = obj.text("balance")
        try:
            amount = Decimal(balance) if balance is not None else None
        except InvalidOperation:
            raise SchemaError(f"{where}.balance", "a decimal number") from None
        asserted = obj.text("asserted_until")
        try:
            until = dt.date.fromisoformat(asserted) if asserted else None
        except ValueError:
            raise SchemaError(f"{where}.asserted_until", "a date") from None
        observed = obj.objects("balance_observations")
        return cls(
            account=obj.text("account"),
            last_fetch=obj.instant("last_fetch"),
            last_new=obj.integer("last_new"),
            health=Health.read(obj),
            reference=obj.text("reference"),
            currency=obj.text("currency"),
            description=obj.text("description"),
            balance=amount,
            balance_reference_date=obj.instant("balance_reference_date"),
            consent_expires_at=obj.instant("consent_expires_at"),
            synchronized_at=obj.instant("synchronized_at"),
            refusal=ConsentRefusal.from_json(obj.raw.get("consent_refusal")),
            sync_requested_at=obj.instant("sync_requested_at"),
            bank_time_zone=obj.text("bank_time_zone"),
            bank_name=obj.text("bank_name"),
            balance_observations={
                key: BalanceObservation.from_json(value, f"{where}.balance_observations.{key}")
                for key, value in observed.items()
            },
            balances_checked=obj.texts("balances_checked"),
            balance_mismatch=obj.text("balance_mismatch"),
            asserted_until=until,
            deep_check=DeepCheck.from_json(obj.raw.get("deep_check")),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; unset optional keys are left out."""
        out: dict[str, Any] = {
            "account": self.account,
            "last_fetch": to_iso(self.last_fetch),
            "last_new": self.last_new,
            **self.health.to_json(),
            "reference": self.reference,
            "currency": self.currency,
            "description": self.description,
            "balance": None if self.balance is None else str(self.balance),
            "balance_reference_date": to_iso(self.balance_reference_date),
            "consent_expires_at": to_iso(self.consent_expires_at),
            "synchronized_at": to_iso(self.synchronized_at),
            "consent_refusal": self.refusal.to_json() if self.refusal else None,
            "sync_requested_at": to_iso(self.sync_requested_at),
            "bank_time_zone": self.bank_time_zone,
            "bank_name": self.bank_name,
            "balance_observations": {k: v.to_json() for k, v in self.balance_observations.items()},
            "balances_checked": self.balances_checked,
            "balance_mismatch": self.balance_mismatch,
            "asserted_until": self.asserted_until.isoformat() if self.asserted_until else None,
            "deep_check": self.deep_check.to_json() if self.deep_check else None,
        }
        return {k: v for k, v in out.items() if v is not None and v not in ({}, [])}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """A state document of any known version, in the shape of :data:`SCHEMA_VERSION`.

    Version 1 and the unversioned files before it kept the runner record, the
    include cache and the recheck flag under ``"extra"``.

    Raises:
        SchemaError: an unknown (newer) version, or ``extra`` not an object.
    """
    version = raw.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise SchemaError("version", f"a version this bean-ponto reads (up to {SCHEMA_VERSION})")
    if version >= 2:
        return raw
    extra = JsonObject(raw.get("extra") or {}, "extra").raw
    doc = {k: v for k, v in raw.items() if k != "extra"}
    doc |= {
        "version": SCHEMA_VERSION,
        "runner": extra.get("runner"),
        "includes": extra.get("includes"),
        "recheck_balances": extra.get("recheck_balances") is True,
    }
    return doc
