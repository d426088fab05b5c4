"""JSON:API documents of the simulated Ponto API, built from the records.

Contract: pure functions from records (+ the base URL the client used, e.g.
``http://127.0.0.1:5000`` or ``http://127.0.0.1:5000/ponto-connect``) to JSON-ready
dicts with Decimal money and ``.000Z`` UTC timestamps. Attribute names and order
follow ponto-api.md sections 4-7; every documented transaction attribute is
present (``null`` when unknown). ``executionDate``/``valueDate``/``*ReferenceDate``
follow the :data:`~.jsonutil.DateConvention` given (default: the bank's local
midnight expressed in UTC). A transaction's ``extra`` may replace the served
``currency``/``executionDate``/``valueDate``/``createdAt`` verbatim (malformed or
odd answers; the list order still follows the real creation time), and an
account's ``served`` attributes replace the computed ones the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from beancount_ponto.simulator.jsonutil import iso, served_date

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from beancount_ponto.simulator.jsonutil import DateConvention
    from beancount_ponto.simulator.records import AccountRec, Page, SyncRec, Txn

FI_NAME = "Demo Bank Belgium"
FI_BIC = "DEMOBEB1"

TXN_ATTRIBUTES = (
    "description",
    "remittanceInformation",
    "remittanceInformationType",
    "counterpartName",
    "counterpartReference",
    "bankTransactionCode",
    "proprietaryBankTransactionCode",
    "endToEndId",
    "purposeCode",
    "mandateId",
    "creditorId",
    "additionalInformation",
    "internalReference",
    "digest",
    "fee",
    "cardReference",
    "cardReferenceType",
)


def _derived(txn_id: str) -> tuple[str, str]:
    digest = hashlib.sha256(txn_id.encode()).hexdigest()
    ref = hashlib.sha256(b"internal:" + txn_id.encode()).hexdigest()
    return f"{ref[:8]}-{ref[8:12]}-{ref[12:16]}-{ref[16:20]}-{ref[20:32]}", digest


#: Served attributes a transaction's ``extra`` may replace verbatim.
VERBATIM = ("currency", "valueDate", "executionDate")


def transaction(
    txn: Txn,
    account_id: str,
    base: str,
    zone: ZoneInfo,
    kind: str = "transaction",
    *,
    convention: DateConvention = "local_midnight",
) -> dict[str, Any]:
    """A ``transaction`` (or ``pendingTransaction``) resource."""
    internal, digest = _derived(txn.id)
    defaults: dict[str, Any] = {
        "remittanceInformationType": "unstructured",
        "internalReference": internal,
        "digest": digest,
    }
    attributes: dict[str, Any] = {
        "amount": txn.amount,
        "currency": txn.currency,
        "valueDate": served_date(txn.value_date, zone, convention),
        "executionDate": served_date(txn.execution_date, zone, convention),
    }
    attributes.update((name, txn.extra[name]) for name in VERBATIM if name in txn.extra)
    for name in TXN_ATTRIBUTES:
        attributes[name] = txn.extra.get(name, defaults.get(name))
    for name, value in txn.extra.items():
        if name not in attributes:
            attributes[name] = value
    attributes["createdAt"] = txn.extra.get("createdAt", iso(txn.created_at))
    attributes["updatedAt"] = iso(txn.updated_at)
    return {
        "type": kind,
        "id": txn.id,
        "attributes": attributes,
        "relationships": {
            "account": {
                "data": {"type": "account", "id": account_id},
                "links": {"related": f"{base}/accounts/{account_id}"},
            }
        },
    }


def synchronization(sync: SyncRec, base: str) -> dict[str, Any]:
    """A ``synchronization`` resource (with updated-transactions links once done)."""
    resource: dict[str, Any] = {
        "type": "synchronization",
        "id": sync.id,
        "attributes": {
            "resourceType": "account",
            "resourceId": sync.account_id,
            "subtype": sync.subtype,
            "status": sync.status,
            "errors": list(sync.errors),
            "customerOnline": bool(sync.customer_ip),
            "createdAt": iso(sync.created_at),
            "updatedAt": iso(sync.updated_at),
        },
    }
    if sync.status == "success" and sync.subtype != "accountDetails":
        link = f"{base}/synchronizations/{sync.id}"
        resource["relationships"] = {
            "updatedTransactions": {
                "links": {
                    "related": f"{link}/updated-transactions",
                    "meta": {"type": "transaction"},
                }
            },
            "updatedPendingTransactions": {
                "links": {
                    "related": f"{link}/updated-pending-transactions",
                    "meta": {"type": "pendingTransaction"},
                }
            },
        }
    return resource


def account(
    acc: AccountRec,
    base: str,
    fi_id: str,
    zone: ZoneInfo,
    convention: DateConvention = "local_midnight",
) -> dict[str, Any]:
    """An ``account`` resource; balances equal the sum of its transactions."""
    reference_day = acc.txns.latest_day() or acc.synchronized_at.astimezone(zone).date()
    reference_date = served_date(reference_day, zone, convention)
    changed = iso(acc.balance_changed_at)
    observed = iso(acc.balance_changed_at + dt.timedelta(milliseconds=26))
    return {
        "type": "account",
        "id": acc.id,
        "attributes": {
            "reference": acc.reference,
            "referenceType": "IBAN",
            "subtype": acc.subtype,
            "description": acc.description,
            "product": acc.product,
            "holderName": acc.holder_name,
            "currency": acc.currency,
            "currentBalance": acc.balance,
            "currentBalanceChangedAt": changed,
            "currentBalanceReferenceDate": reference_date,
            "currentBalanceVariationObservedAt": observed,
            "availableBalance": acc.balance,
            "availableBalanceChangedAt": changed,
            "availableBalanceReferenceDate": reference_date,
            "availableBalanceVariationObservedAt": observed,
            "authorizedAt": iso(acc.authorized_at),
            "authorizationExpirationExpectedAt": iso(acc.expires_at),
            "deprecated": False,
            "internalReference": acc.internal_reference,
            **acc.served,
        },
        "meta": {
            "availability": "available",
            "synchronizedAt": iso(acc.synchronized_at),
            "latestSynchronization": synchronization(acc.latest_sync, base),
        },
        "relationships": {
            "financialInstitution": {
                "data": {"type": "financialInstitution", "id": fi_id},
                "links": {"related": f"{base}/financial-institutions/{fi_id}"},
            },
            "transactions": {
                "links": {
                    "related": f"{base}/accounts/{acc.id}/transactions",
                    "meta": {"type": "transaction"},
                }
            },
        },
    }


def financial_institution(fi_id: str, time_zone: str | None) -> dict[str, Any]:
    """The one ``financialInstitution`` of the simulator (no ``timeZone`` when None)."""
    resource: dict[str, Any] = {
        "type": "financialInstitution",
        "id": fi_id,
        "attributes": {
            "name": FI_NAME,
            "bic": FI_BIC,
            "country": "BE",
            "status": "stable",
            "deprecated": False,
            "logoUrl": None,
            "primaryColor": None,
            "secondaryColor": None,
            "sharedBrandName": None,
            "sharedBrandReference": None,
            "maintenanceType": None,
            "maintenanceFrom": None,
            "maintenanceTo": None,
            "paymentsEnabled": False,
            "paymentsProductTypes": [],
            "bulkPaymentsEnabled": False,
            "bulkPaymentsProductTypes": [],
            "periodicPaymentsEnabled": False,
            "periodicPaymentsProductTypes": [],
            "futureDatedPaymentsAllowed": False,
        },
    }
    if time_zone is not None:
        resource["attributes"]["timeZone"] = time_zone
    return resource


def paged_links(
    collection_url: str,
    items: list[dict[str, Any]],
    pg: Page,
    limit: int,
    *,
    legacy: bool = False,
) -> tuple[dict[str, str], dict[str, Any]]:
    """The ``links`` and ``meta.paging`` of one page of a collection.

    With ``legacy``, ``next`` and ``prev`` are old-style ``?after=<id>`` /
    ``?before=<id>`` links without a limit, as in Ibanity's Java fixtures.
    """
    links = {"first": f"{collection_url}?page[limit]={limit}"}
    before = items[0]["id"] if items and pg.has_prev else None
    after = items[-1]["id"] if items and pg.has_next else None
    if after is not None:
        links["next"] = (
            f"{collection_url}?after={after}"
            if legacy
            else f"{collection_url}?page[after]={after}&page[limit]={limit}"
        )
    if before is not None:
        links["prev"] = (
            f"{collection_url}?before={before}"
            if legacy
            else f"{collection_url}?page[before]={before}&page[limit]={limit}"
        )
    return links, {"limit": limit, "before": before, "after": after}


def root_links(base: str) -> dict[str, Any]:
    """The API root document (URI templates)."""
    fi = f"{base}/sandbox/financial-institutions/{{financialInstitutionId}}"
    fia = f"{fi}/financial-institution-accounts/{{financialInstitutionAccountId}}"
    acc = f"{base}/accounts/{{accountId}}"
    sync = f"{base}/synchronizations/{{synchronizationId}}"
    return {
        "links": {
            "accounts": acc,
            "account": {
                "transactions": f"{acc}/transactions/{{transactionId}}",
                "pendingTransactions": f"{acc}/pending-transactions/{{pendingTransactionId}}",
                "reauthorizationRequests": f"{acc}/reauthorization-requests",
                "payments": f"{acc}/payments/{{paymentId}}",
                "bulkPayments": f"{acc}/bulk-payments/{{bulkPaymentId}}",
                "paymentRequests": f"{acc}/payment-requests/{{paymentRequestId}}",
            },
            "synchronizations": sync,
            "synchronization": {
                "updatedTransactions": f"{sync}/updated-transactions",
                "updatedPendingTransactions": f"{sync}/updated-pending-transactions",
            },
            "financialInstitutions": f"{base}/financial-institutions/{{financialInstitutionId}}",
            "oauth2": {"token": f"{base}/oauth2/token", "revoke": f"{base}/oauth2/revoke"},
            "userinfo": f"{base}/userinfo",
            "onboardingDetails": f"{base}/onboarding-details",
            "organizations": {
                "usage": f"{base}/organizations/{{organizationId}}/usage/{{month}}",
                "integration": f"{base}/organizations/{{organizationId}}/integration",
            },
            "integrationAccounts": f"{base}/integration-accounts/{{integrationAccountId}}",
            "paymentActivationRequests": f"{base}/payment-activation-requests",
            "sandbox": {
                "financialInstitutions": fi,
                "financialInstitution": {
                    "financialInstitutionAccounts": fia,
                    "financialInstitutionAccount": {
                        "financialInstitutionTransactions": (
                            f"{fia}/financial-institution-transactions/"
                            "{financialInstitutionTransactionId}"
                        ),
                    },
                },
            },
        }
    }


def error(code: str, detail: str, **meta: Any) -> dict[str, Any]:
    """A JSON:API error document with one error."""
    return {"errors": [{"code": code, "detail": detail, "meta": meta}]}
