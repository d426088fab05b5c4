"""Typed records for the Ponto resources the package uses.

Each record is a frozen dataclass built by ``from_api(resource)`` from one
JSON:API resource object (``{"type", "id", "attributes", "meta", ...}``).
Money is :class:`~decimal.Decimal`, never ``float``: the client parses JSON
numbers with ``parse_float=Decimal`` and :func:`to_decimal` refuses floats.
Timestamps are timezone-aware UTC :class:`~datetime.datetime` values, at least
:data:`TIMESTAMP_MARGIN` away from the ends of what ``datetime`` can hold, so any
zone's date of one (and the day after it) exists.
A resource missing a required field raises
:class:`~beancount_ponto.errors.MalformedResponseError` naming the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from beancount_ponto.errors import MalformedResponseError

Resource = dict[str, Any]

#: How far a timestamp must stay from year 1 and year 9999's ends: any UTC offset
#: (at most a day) plus the day after a balance's reference date.
TIMESTAMP_MARGIN = dt.timedelta(days=2)
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC) + TIMESTAMP_MARGIN
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC) - TIMESTAMP_MARGIN
#: A synchronization's status; ``unknown`` stands for a value Ponto never documented.
SyncStatus = Literal["pending", "running", "success", "error", "unknown"]


def to_decimal(value: object, what: str = "amount") -> Decimal:
    """Return ``value`` as an exact Decimal.

    Args:
        value: a Decimal, an int or a numeric string (never a float).
        what: the field name, for the error message.

    Raises:
        MalformedResponseError: if ``value`` is not an exact number.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise MalformedResponseError(
                f"Ponto sent a {what} that is not a number: {value!r}"
            ) from None
    else:
        raise MalformedResponseError(f"Ponto sent a {what} that is not an exact number: {value!r}")
    if not result.is_finite():
        raise MalformedResponseError(f"Ponto sent a {what} that is not finite: {value!r}")
    return result


def parse_timestamp(value: object, what: str = "timestamp") -> dt.datetime:
    """Parse an ISO 8601 timestamp from Ponto into an aware UTC datetime.

    Ponto sends ``2024-03-01T23:00:00.000Z``; a value without an offset is
    taken as UTC, a plain date as UTC midnight.

    Raises:
        MalformedResponseError: if ``value`` is not such a timestamp, or lies
            within :data:`TIMESTAMP_MARGIN` of the range ``datetime`` can hold
            (``9999-12-31T23:00:00.000Z``, ``0001-01-01T00:30:00+01:00``): such a
            value would overflow when dated in a zone.
    """
    if not isinstance(value, str):
        raise MalformedResponseError(f"Ponto sent a {what} that is not a string: {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedResponseError(f"Ponto sent an invalid {what}: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        utc = parsed.astimezone(dt.UTC)
    except OverflowError:
        utc = None
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise MalformedResponseError(f"Ponto sent an out-of-range {what}: {value!r}")
    return utc


class _Reader:
    """Reads typed fields out of one resource, naming the resource on errors."""

    def __init__(self, resource: object, kind: str) -> None:
        if not isinstance(resource, dict):
            raise MalformedResponseError(f"Ponto sent a {kind} that is not an object")
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid:
            raise MalformedResponseError(f"Ponto sent a {kind} without an id")
        attributes = resource.get("attributes", {})
        if not isinstance(attributes, dict):
            raise MalformedResponseError(f"Ponto sent {kind} {rid} without attributes")
        meta = resource.get("meta") or {}
        self.id: str = rid
        self.kind = kind
        self.attributes: dict[str, Any] = attributes
        self.meta: dict[str, Any] = meta if isinstance(meta, dict) else {}
        self.resource: dict[str, Any] = resource

    def _name(self, key: str) -> str:
        return f"{self.kind} {self.id} field {key}"

    def required(self, key: str) -> object:
        if self.attributes.get(key) is None:
            raise MalformedResponseError(f"Ponto sent {self.kind} {self.id} without {key}")
        return self.attributes[key]

    def string(self, key: str) -> str | None:
        value = self.attributes.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            return str(value)
        return value

    def lines(self, key: str) -> str | None:
        """Text that may come as a list of lines (or an object of labelled lines).

        The lines are joined with line breaks, which
        :func:`~beancount_ponto.convert.clean_text` turns into ``" | "``.
        """
        value = self.attributes.get(key)
        if isinstance(value, dict):
            value = [f"{k}: {v}" for k, v in value.items() if v not in (None, "")]
        if isinstance(value, list):
            value = "\n".join(str(item) for item in value if item not in (None, ""))
        return self.string(key) if not isinstance(value, str) else value or None

    def required_string(self, key: str) -> str:
        value = self.required(key)
        if not isinstance(value, str):
            raise MalformedResponseError(
                f"Ponto sent {self._name(key)} that is not text: {value!r}"
            )
        return value

    def decimal(self, key: str) -> Decimal | None:
        value = self.attributes.get(key)
        return None if value is None else to_decimal(value, self._name(key))

    def timestamp(self, key: str, source: dict[str, Any] | None = None) -> dt.datetime | None:
        value = (self.attributes if source is None else source).get(key)
        return None if value in (None, "") else parse_timestamp(value, self._name(key))

    def relationship_id(self, name: str) -> str | None:
        relationships = self.resource.get("relationships")
        if not isinstance(relationships, dict):
            return None
        rel = relationships.get(name)
        data = rel.get("data") if isinstance(rel, dict) else None
        rid = data.get("id") if isinstance(data, dict) else None
        return rid if isinstance(rid, str) else None


@dataclass(frozen=True)
class FinancialInstitution:
    """A bank as Ponto describes it."""

    id: str
    name: str
    bic: str | None = None
    country: str | None = None
    time_zone: str | None = None

    @classmethod
    def from_api(cls, resource: object) -> FinancialInstitution:
        """Build from a JSON:API ``financialInstitution`` resource."""
        r = _Reader(resource, "financial institution")
        return cls(
            id=r.id,
            name=r.string("name") or r.id,
            bic=r.string("bic"),
            country=r.string("country"),
            time_zone=r.string("timeZone"),
        )


@dataclass(frozen=True)
class SyncError:
    """One error of a synchronization, e.g. code ``authorizationInvalid``."""

    code: str | None
    detail: str | None


_SYNC_STATUSES: dict[object, SyncStatus] = {
    "pending": "pending",
    "running": "running",
    "success": "success",
    "error": "error",
}


def _sync_status(value: object) -> SyncStatus:
    return _SYNC_STATUSES.get(value, "unknown") if isinstance(value, str) else "unknown"


@dataclass(frozen=True)
class LatestSynchronization:
    """An account's ``meta.latestSynchronization``: how Ponto's last refresh went.

    Ponto reports a revoked or invalid bank consent here (``status`` ``error``
    with an error code such as ``authorizationInvalid``), also for the
    refreshes it makes by itself.
    """

    status: SyncStatus
    subtype: str | None = None
    errors: tuple[SyncError, ...] = ()
    updated_at: dt.datetime | None = None

    @classmethod
    def from_meta(cls, value: object) -> LatestSynchronization | None:
        """Build from the embedded resource; None when absent or not an object.

        Lenient (a side note of the account must not fail the account): an
        unknown status reads ``unknown``, an unreadable ``updatedAt`` None.
        """
        attributes = value.get("attributes") if isinstance(value, dict) else None
        if not isinstance(attributes, dict):
            return None
        raw_errors = attributes.get("errors")
        errors = tuple(
            SyncError(
                code=e.get("code") if isinstance(e.get("code"), str) else None,
                detail=e.get("detail") if isinstance(e.get("detail"), str) else None,
            )
            for e in (raw_errors if isinstance(raw_errors, list) else [])
            if isinstance(e, dict)
        )
        try:
            updated = parse_timestamp(attributes.get("updatedAt"), "updatedAt")
        except MalformedResponseError:
            updated = None
        subtype = attributes.get("subtype")
        return cls(
            status=_sync_status(attributes.get("status")),
            subtype=subtype if isinstance(subtype, str) else None,
            errors=errors,
            updated_at=updated,
        )


@dataclass(frozen=True)
class Account:
    """A bank account the Ponto integration may read.

    ``synchronized_at`` is Ponto's ``meta.synchronizedAt`` (when it last
    refreshed the account from the bank) and ``latest_synchronization`` its
    ``meta.latestSynchronization``.
    """

    id: str
    reference: str
    currency: str
    description: str = ""
    reference_type: str | None = None
    subtype: str | None = None
    product: str | None = None
    holder_name: str | None = None
    current_balance: Decimal | None = None
    current_balance_reference_date: dt.datetime | None = None
    current_balance_changed_at: dt.datetime | None = None
    available_balance: Decimal | None = None
    authorized_at: dt.datetime | None = None
    consent_expires_at: dt.datetime | None = None
    synchronized_at: dt.datetime | None = None
    availability: str | None = None
    financial_institution_id: str | None = None
    latest_synchronization: LatestSynchronization | None = None

    @classmethod
    def from_api(cls, resource: object) -> Account:
        """Build from a JSON:API ``account`` resource."""
        r = _Reader(resource, "account")
        return cls(
            id=r.id,
            reference=r.string("reference") or "",
            currency=r.required_string("currency"),
            description=r.string("description") or "",
            reference_type=r.string("referenceType"),
            subtype=r.string("subtype"),
            product=r.string("product"),
            holder_name=r.string("holderName"),
            current_balance=r.decimal("currentBalance"),
            current_balance_reference_date=r.timestamp("currentBalanceReferenceDate"),
            current_balance_changed_at=r.timestamp("currentBalanceChangedAt"),
            available_balance=r.decimal("availableBalance"),
            authorized_at=r.timestamp("authorizedAt"),
            consent_expires_at=r.timestamp("authorizationExpirationExpectedAt"),
            synchronized_at=r.timestamp("synchronizedAt", r.meta),
            availability=r.meta.get("availability")
            if isinstance(r.meta.get("availability"), str)
            else None,
            financial_institution_id=r.relationship_id("financialInstitution"),
            latest_synchronization=LatestSynchronization.from_meta(
                r.meta.get("latestSynchronization")
            ),
        )


#: Optional text fields of a transaction, Ponto attribute name -> record field.
TRANSACTION_TEXT_FIELDS: dict[str, str] = {
    "description": "description",
    "remittanceInformation": "remittance_information",
    "remittanceInformationType": "remittance_information_type",
    "counterpartName": "counterpart_name",
    "counterpartReference": "counterpart_reference",
    "bankTransactionCode": "bank_transaction_code",
    "proprietaryBankTransactionCode": "proprietary_bank_transaction_code",
    "endToEndId": "end_to_end_id",
    "purposeCode": "purpose_code",
    "mandateId": "mandate_id",
    "creditorId": "creditor_id",
    "additionalInformation": "additional_information",
    "internalReference": "internal_reference",
    "digest": "digest",
    "cardReference": "card_reference",
    "cardReferenceType": "card_reference_type",
}


@dataclass(frozen=True)
class Transaction:
    """A booked (or pending) bank transaction.

    ``amount`` is signed: negative is money out of the account.
    """

    id: str
    amount: Decimal
    currency: str
    execution_date: dt.datetime
    value_date: dt.datetime | None = None
    account_id: str | None = None
    description: str | None = None
    remittance_information: str | None = None
    remittance_information_type: str | None = None
    counterpart_name: str | None = None
    counterpart_reference: str | None = None
    bank_transaction_code: str | None = None
    proprietary_bank_transaction_code: str | None = None
    end_to_end_id: str | None = None
    purpose_code: str | None = None
    mandate_id: str | None = None
    creditor_id: str | None = None
    additional_information: str | None = None
    internal_reference: str | None = None
    digest: str | None = None
    card_reference: str | None = None
    card_reference_type: str | None = None
    details: str | None = None
    remittance_information_array: str | None = None
    fee: Decimal | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_api(cls, resource: object) -> Transaction:
        """Build from a JSON:API ``transaction`` or ``pendingTransaction`` resource.

        ``executionDate`` falls back to ``valueDate`` when a bank leaves it out.
        ``details`` and ``remittanceInformationUnstructuredArray`` (undocumented;
        some banks put the communication there, OCA issue #891) may be text or
        a list of lines.
        """
        r = _Reader(resource, "transaction")
        value_date = r.timestamp("valueDate")
        execution_date = r.timestamp("executionDate") or value_date
        if execution_date is None:
            raise MalformedResponseError(f"Ponto sent transaction {r.id} without executionDate")
        texts = {name: r.string(key) for key, name in TRANSACTION_TEXT_FIELDS.items()}
        return cls(
            id=r.id,
            amount=to_decimal(r.required("amount"), f"transaction {r.id} amount"),
            currency=r.required_string("currency"),
            execution_date=execution_date,
            value_date=value_date,
            account_id=r.relationship_id("account"),
            fee=r.decimal("fee"),
            created_at=r.timestamp("createdAt"),
            updated_at=r.timestamp("updatedAt"),
            details=r.lines("details"),
            remittance_information_array=r.lines("remittanceInformationUnstructuredArray"),
            **texts,
        )


@dataclass(frozen=True)
class Synchronization:
    """A Ponto synchronization: Ponto refreshing one account from the bank."""

    id: str
    status: SyncStatus
    resource_id: str | None = None
    subtype: str | None = None
    errors: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def finished(self) -> bool:
        """True once the synchronization succeeded or failed."""
        return self.status in ("success", "error")

    @classmethod
    def from_api(cls, resource: object) -> Synchronization:
        """Build from a JSON:API ``synchronization`` resource."""
        r = _Reader(resource, "synchronization")
        errors = r.attributes.get("errors") or []
        return cls(
            id=r.id,
            status=_sync_status(r.required_string("status")),
            resource_id=r.string("resourceId"),
            subtype=r.string("subtype"),
            errors=tuple(e for e in errors if isinstance(e, dict))
            if isinstance(errors, list)
            else (),
            created_at=r.timestamp("createdAt"),
            updated_at=r.timestamp("updatedAt"),
        )
