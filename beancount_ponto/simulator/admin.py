"""The ``/_sim/`` admin endpoints, for driving the simulator from another process.

Contract (JSON in, JSON out; never faulted, never logged; no authentication):

* ``GET /_sim/state`` -> accounts with transaction counts, pending faults, counters.
* ``GET /_sim/log`` -> ``{"requests": [[method, path, status], ...]}``;
  ``POST /_sim/reset-log`` empties it.
* ``POST /_sim/transactions`` ``{"account", "amount", "counterpartName"?,
  "remittanceInformation"?, "executionDate"?, "valueDate"?, "description"?,
  "currency"?, "attributes"?, "id"?}`` -> 201 ``{"id": ...}`` (``executionDate``/``valueDate``
  inside ``attributes`` are served verbatim).
* ``POST /_sim/pending`` ``{"account", "amount", "counterpartName"?,
  "remittanceInformation"?, "executionDate"?, "currency"?, "id"?}`` -> 201 ``{"id", "account"}``;
  ``POST /_sim/book`` ``{"account", "id", "executionDate"?, "amount"?}`` -> 201
  ``{"id": <the booked transaction's new id>, "account", "pending_id"}`` (unknown ids 404).
* ``POST /_sim/faults`` ``{"kind", "count"?, "status"?, "retry_after"?, "seconds"?,
  "path_contains"?, "account"?}``; kinds: fail, rate_limit, drop, garbage, slow, repeat,
  bank_error (500 ``invalidCredentials`` with the bank's answer), expire_tokens,
  clear; and with ``account``: expire_consent, revoke_consent (``refuse_reads``?),
  reauthorize, synchronized_at (``at``, ISO 8601) -> 200 with the state.
* ``POST /_sim/switches`` ``{"refuse_after_expiry": bool}`` -> 200 with the state.
* ``POST /_sim/queue`` ``{"account", "count"}`` -> ``{"account", "queued"}``.
* ``POST /_sim/grow`` -> one generated transaction on a random account.
* ``POST /_sim/options`` ``{"listOrder"?: "date"|"created", "legacyLinks"?: bool}``
  -> 200 with the state.
Bad input answers 400 ``validationError``; unknown accounts 404.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from beancount_ponto.simulator import pending, reauth
from beancount_ponto.simulator.faults import KINDS, Fault
from beancount_ponto.simulator.jsonutil import dumps, loads
from beancount_ponto.simulator.messages import (
    Response,
    bad_json,
    error_response,
    json_response,
    not_found,
    validation_error,
)
from beancount_ponto.simulator.records import LIST_ORDERS

if TYPE_CHECKING:
    from beancount_ponto.simulator.messages import Request
    from beancount_ponto.simulator.state import SimState


class _Invalid(ValueError):
    def __init__(self, message: str, attribute: str) -> None:
        super().__init__(message)
        self.attribute = attribute


def _int(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _Invalid(f"{key} must be an integer", key)
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise _Invalid(f"{key} must be an integer", key) from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0:
        raise _Invalid(f"{key} must be a non-negative integer", key)
    return int(number)


def _seconds(body: dict[str, Any]) -> float:
    value = body.get("seconds", 0)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise _Invalid("seconds must be a number", "seconds")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise _Invalid("seconds must be a number", "seconds") from None
    if not number.is_finite() or number < 0 or number > 3600:
        raise _Invalid("seconds must be between 0 and 3600", "seconds")
    return float(number)


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"{key} must be a string or null", key)
    return value


def _date(body: dict[str, Any], key: str) -> dt.date | None:
    value = _text(body, key)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise _Invalid(f"{key} must be a YYYY-MM-DD date", key) from None


def _timestamp(body: dict[str, Any], key: str) -> dt.datetime:
    value = _text(body, key)
    try:
        return dt.datetime.fromisoformat(value or "")
    except ValueError:
        raise _Invalid(f"{key} must be an ISO 8601 timestamp", key) from None


def _account(state: SimState, body: dict[str, Any]) -> str:
    account = body.get("account")
    if not isinstance(account, str):
        raise _Invalid("account (an account id) is required", "account")
    state.account(account)  # KeyError if unknown
    return account


def _add_transaction(state: SimState, body: dict[str, Any]) -> Response:
    account = _account(state, body)
    extra = body.get("attributes") or {}
    if not isinstance(extra, dict):
        raise _Invalid("attributes must be an object", "attributes")
    attributes: dict[str, Any] = {
        "counterpartName": _text(body, "counterpartName", "Demo Counterpart"),
        "remittanceInformation": _text(body, "remittanceInformation", "Simulated transaction"),
        **extra,
    }
    try:
        txn = state.add_transaction(
            account,
            body.get("amount"),
            execution_date=_date(body, "executionDate"),
            value_date=_date(body, "valueDate"),
            description=_text(body, "description", "Wire transfer") or "Wire transfer",
            attributes=attributes,
            currency=_text(body, "currency"),
            txn_id=_text(body, "id"),
        )
    except (TypeError, ValueError) as exc:
        raise _Invalid(str(exc), "amount") from None
    return json_response(201, {"id": txn.id, "account": account})


def _add_pending(state: SimState, body: dict[str, Any]) -> Response:
    account = _account(state, body)
    attributes: dict[str, Any] = {
        "counterpartName": _text(body, "counterpartName", "Demo Shop"),
        "remittanceInformation": _text(body, "remittanceInformation", "Card payment"),
    }
    try:
        txn = pending.add_pending(
            state,
            account,
            body.get("amount"),
            execution_date=_date(body, "executionDate"),
            attributes=attributes,
            currency=_text(body, "currency"),
            txn_id=_text(body, "id"),
        )
    except (TypeError, ValueError) as exc:
        raise _Invalid(str(exc), "amount") from None
    return json_response(201, {"id": txn.id, "account": account})


def _book(state: SimState, body: dict[str, Any]) -> Response:
    account = _account(state, body)
    pending_id = _text(body, "id")
    if pending_id is None:
        raise _Invalid("id (a pending transaction id) is required", "id")
    amount = body.get("amount")
    if state.account(account).pending.get(pending_id) is None:
        return not_found("pendingTransaction")
    try:
        txn = pending.book_pending(
            state,
            account,
            pending_id,
            execution_date=_date(body, "executionDate"),
            amount=amount,
        )
    except (TypeError, ValueError) as exc:
        raise _Invalid(str(exc), "amount") from None
    return json_response(201, {"id": txn.id, "account": account, "pending_id": pending_id})


def _faults(state: SimState, body: dict[str, Any]) -> Response:
    kind = body.get("kind")
    count = _int(body, "count", 1)
    if kind == "expire_tokens":
        state.expire_tokens()
    elif kind == "expire_consent":
        state.expire_consent(_account(state, body))
    elif kind == "revoke_consent":
        reauth.revoke(state, _account(state, body), refuse_reads=body.get("refuse_reads") is True)
    elif kind == "reauthorize":
        reauth.reauthorize(state, _account(state, body))
    elif kind == "synchronized_at":
        state.set_synchronized_at(_account(state, body), _timestamp(body, "at"))
    elif kind == "clear":
        with state.lock:
            state.faults.clear()
    elif kind in KINDS:
        fault = Fault(
            str(kind),
            count,
            status=_int(body, "status", 503),
            retry_after=_int(body, "retry_after", 1),
            seconds=_seconds(body),
            path_contains=_text(body, "path_contains"),
        )
        try:
            state.arm(fault)
        except ValueError as exc:
            raise _Invalid(str(exc), "kind") from None
    else:
        raise _Invalid(
            f"kind must be one of {', '.join(KINDS)}, expire_tokens, expire_consent, "
            "revoke_consent, reauthorize, synchronized_at or clear",
            "kind",
        )
    return json_response(200, state.summary())


def _switches(state: SimState, body: dict[str, Any]) -> Response:
    value = body.get("refuse_after_expiry")
    if not isinstance(value, bool):
        raise _Invalid("refuse_after_expiry must be true or false", "refuse_after_expiry")
    with state.lock:
        state.consent.refuse_after_expiry = value
    return json_response(200, state.summary())


def _queue(state: SimState, body: dict[str, Any]) -> Response:
    account = _account(state, body)
    queued = state.queue(account, _int(body, "count", 1))
    return json_response(200, {"account": account, "queued": queued})


def _options(state: SimState, body: dict[str, Any]) -> Response:
    order = body.get("listOrder")
    if order is not None and order not in LIST_ORDERS:
        raise _Invalid(f"listOrder must be one of {', '.join(LIST_ORDERS)}", "listOrder")
    legacy = body.get("legacyLinks")
    if legacy is not None and not isinstance(legacy, bool):
        raise _Invalid("legacyLinks must be true or false", "legacyLinks")
    state.set_options(list_order=order, legacy_links=legacy)
    return json_response(200, state.summary())


_POSTS = {
    "transactions": _add_transaction,
    "pending": _add_pending,
    "book": _book,
    "faults": _faults,
    "queue": _queue,
    "options": _options,
    "switches": _switches,
}


def handle(state: SimState, req: Request, segs: list[str]) -> Response:
    """Answer an admin request; ``segs`` are the path segments after ``_sim``."""
    name = segs[0] if len(segs) == 1 else ""
    methods = {
        "state": "GET",
        "log": "GET",
        "reset-log": "POST",
        "grow": "POST",
        **dict.fromkeys(_POSTS, "POST"),
    }
    if name not in methods:
        return error_response(404, "routeNotFound", "Unknown admin endpoint.")
    if req.method != methods[name]:
        resp = error_response(405, "methodNotAllowed", f"Use {methods[name]} here.")
        resp.headers["Allow"] = methods[name]
        return resp
    if name == "state":
        return json_response(200, state.summary())
    if name == "log":
        return Response(200, dumps({"requests": [list(e) for e in state.request_log()]}))
    if name == "reset-log":
        state.reset_log()
        return json_response(200, {"requests": []})
    if name == "grow":
        with state.lock:
            txn = state.grow_once()
            account = next(a.id for a in state.accounts.values() if txn.id in a.txns)
        return json_response(201, {"id": txn.id, "account": account})
    try:
        body = loads(req.body or b"{}")
    except ValueError:
        return bad_json()
    if not isinstance(body, dict):
        return bad_json()
    try:
        return _POSTS[name](state, body)
    except _Invalid as exc:
        return validation_error(str(exc), exc.attribute)
    except KeyError as exc:
        del exc
        return not_found("account")
