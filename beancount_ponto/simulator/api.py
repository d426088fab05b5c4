"""The simulated Ponto API: routing, authentication, faults, handlers.

Contract: :meth:`Api.handle` turns one :class:`~.messages.Request` into one
:class:`~.messages.Response` and never raises (an internal bug becomes a 500
JSON error). Paths are served with and without the ``/ponto-connect`` prefix;
``/_sim/...`` goes to :mod:`.admin` without faults or logging. Every other
request is logged and may be hit by the next matching armed fault first.
Order of checks: route (404) -> method (405) -> bearer token (401) -> handler.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from beancount_ponto.simulator import admin, oauth, render
from beancount_ponto.simulator.jsonutil import iso, loads
from beancount_ponto.simulator.messages import (
    Request,
    Response,
    bad_json,
    error_response,
    json_response,
    not_found,
    validation_error,
)
from beancount_ponto.simulator.records import (
    AccountRec,
    ListSeq,
    Page,
    PagingError,
    Rendered,
    Sequence,
    T,
    Txn,
    TxnList,
    page,
)
from beancount_ponto.simulator.state import AUTH_INVALID, SYNC_SUBTYPES, SimState

if TYPE_CHECKING:
    import threading

    from beancount_ponto.simulator.faults import Fault

PREFIX = "/ponto-connect"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
GARBAGE = b'<html><body><h1>502 Bad Gateway</h1></body></html>\n{"data": [ truncated'
FAIL_CODES = {
    500: "internalServerError",
    502: "badGateway",
    503: "serviceUnavailable",
    504: "gatewayTimeout",
    401: "invalidAccessToken",
    404: "resourceNotFound",
}

#: The bank's own answer in a ``bank_error`` fault (shape of ponto-api.md section 6).
BANK_REFUSAL = {
    "statusCode": 401,
    "body": {"error": "invalid_grant", "error_description": "PSU credentials are not valid"},
    "requestId": "8f1c2a4e-sim-bank",
    "timestamp": "2026-11-20T11:00:00.000Z",
    "requestUri": "https://psd2.demo-bank.example/v1/accounts",
}

Handler = Callable[["Api", Request, list[str]], Response]


def split_target(target: str) -> tuple[str, list[str]]:
    """Return the API prefix used and the decoded path segments of ``target``."""
    path = target.partition("?")[0]
    prefix = ""
    if path == PREFIX or path.startswith(PREFIX + "/"):
        prefix, path = PREFIX, path[len(PREFIX) :]
    return prefix, [unquote(seg) for seg in path.split("/") if seg]


def parse_paging(query: dict[str, str]) -> tuple[int, str | None, str | None]:
    """Read ``page[limit|before|after]`` (or legacy ``limit|before|after``).

    Raises:
        PagingError: for a limit that is not a positive integer.
    """
    raw = query.get("page[limit]", query.get("limit"))
    limit = DEFAULT_LIMIT
    if raw is not None:
        try:
            limit = int(raw.strip())
        except ValueError:
            raise PagingError(f"page[limit] must be a number, not {raw!r}", "page[limit]") from None
        if limit < 1:
            raise PagingError("page[limit] must be at least 1", "page[limit]")
    before = query.get("page[before]", query.get("before")) or None
    after = query.get("page[after]", query.get("after")) or None
    return min(limit, MAX_LIMIT), before, after


class Api:
    """Request dispatcher over one :class:`~.state.SimState`."""

    def __init__(self, state: SimState, stop: threading.Event) -> None:
        self.state = state
        self.stop = stop

    def handle(self, req: Request) -> Response:
        """Answer ``req`` (never raises)."""
        try:
            prefix, segs = split_target(req.target)
            req.base += prefix
            if segs and segs[0] == "_sim":
                return admin.handle(self.state, req, segs[1:])
            with self.state.lock:
                fault = self.state.faults.take(req.target, unquote(req.target))
            req.repeat = fault is not None and fault.kind == "repeat"
            response = self._apply_fault(fault) if fault else None
            if response is None:
                response = self._route(req, segs)
            status = 0 if response.drop else response.status
            self.state.log_request(req.method, unquote(req.target), status)
            return response
        except Exception as exc:  # a simulator bug must not kill the connection
            self.state.log_request(req.method, unquote(req.target), 500)
            return error_response(
                500, "internalServerError", f"Simulator error: {exc!r}", requestId=req.request_id
            )

    def _apply_fault(self, fault: Fault) -> Response | None:
        if fault.kind == "slow":
            self.stop.wait(fault.seconds)
            return None
        if fault.kind == "repeat":
            return None
        if fault.kind == "drop":
            return Response(0, b"", drop=True)
        if fault.kind == "garbage":
            return Response(200, GARBAGE)
        if fault.kind == "rate_limit":
            resp = error_response(429, "tooManyRequests", "Too many requests, slow down.")
            resp.headers["Retry-After"] = str(fault.retry_after)
            return resp
        if fault.kind == "bank_error":
            return error_response(
                fault.status,
                "invalidCredentials",
                "The financial institution rejected the credentials.",
                financialInstitutionResponse=BANK_REFUSAL,
            )
        code = FAIL_CODES.get(fault.status, "simulatedError")
        return error_response(fault.status, code, f"Simulated failure ({fault.status}).")

    def _route(self, req: Request, segs: list[str]) -> Response:
        for pattern, methods, public in ROUTES:
            if len(pattern) != len(segs):
                continue
            if any(p not in ("*", s) for p, s in zip(pattern, segs, strict=True)):
                continue
            handler = methods.get(req.method)
            if handler is None:
                resp = error_response(
                    405, "methodNotAllowed", f"{req.method} is not allowed on this resource."
                )
                resp.headers["Allow"] = ", ".join(sorted(methods))
                return resp
            if not public and not self._authorized(req):
                return error_response(
                    401,
                    "invalidAccessToken",
                    "Your access token is invalid.",
                    requestId=req.request_id,
                )
            args = [s for p, s in zip(pattern, segs, strict=True) if p == "*"]
            return handler(self, req, args)
        return error_response(404, "routeNotFound", "The requested route was not found.")

    def _authorized(self, req: Request) -> bool:
        scheme, _, token = req.headers.get("authorization", "").strip().partition(" ")
        return scheme.lower() == "bearer" and self.state.token_valid(token.strip())

    def token(self, req: Request, _: list[str]) -> Response:
        """``POST /oauth2/token``."""
        return oauth.token(self.state, req)

    def revoke(self, req: Request, _: list[str]) -> Response:
        """``POST /oauth2/revoke``."""
        return oauth.revoke(self.state, req)

    # -- discovery and institutions -------------------------------------------
    def root(self, req: Request, _: list[str]) -> Response:
        """``GET /``: the URI templates."""
        return json_response(200, render.root_links(req.base))

    def institutions(self, req: Request, _: list[str]) -> Response:
        """``GET /financial-institutions`` (public)."""
        doc = render.financial_institution(self.state.fi_id, self.state.served_time_zone)
        wanted = req.query.get("filter[name][contains]", "").lower()
        items = [Rendered(doc["id"], doc)] if wanted in render.FI_NAME.lower() else []
        return self._paged(
            req, ListSeq(items), lambda r: r.doc, f"{req.base}/financial-institutions", {}
        )

    def institution(self, req: Request, args: list[str]) -> Response:
        """``GET /financial-institutions/{id}`` (public)."""
        if args[0] != self.state.fi_id:
            return not_found("financialInstitution")
        doc = render.financial_institution(self.state.fi_id, self.state.served_time_zone)
        return json_response(200, {"data": doc})

    # -- accounts and transactions --------------------------------------------
    def _account_doc(self, req: Request, acc: AccountRec) -> dict[str, Any]:
        state = self.state
        return render.account(acc, req.base, state.fi_id, state.zone, state.date_convention)

    def accounts(self, req: Request, _: list[str]) -> Response:
        """``GET /accounts``."""
        with self.state.lock:
            seq = ListSeq(list(self.state.accounts.values()))
            return self._paged(
                req, seq, lambda a: self._account_doc(req, a), f"{req.base}/accounts", {}
            )

    def account(self, req: Request, args: list[str]) -> Response:
        """``GET /accounts/{id}``."""
        with self.state.lock:
            acc = self.state.accounts.get(args[0])
            if acc is None:
                return not_found("account")
            return json_response(200, {"data": self._account_doc(req, acc)})

    def _readable(self, args: list[str]) -> AccountRec | Response:
        acc = self.state.accounts.get(args[0])
        if acc is None:
            return not_found("account")
        if self.state.reads_refused(acc):
            return error_response(403, "authorizationInvalid", AUTH_INVALID, resource="account")
        return acc

    def _txn_list(self, req: Request, args: list[str], pending: bool) -> Response:
        with self.state.lock:
            acc = self._readable(args)
            if isinstance(acc, Response):
                return acc
            kind = "pendingTransaction" if pending else "transaction"
            seq = acc.pending if pending else acc.txns
            url = f"{req.base}/accounts/{acc.id}/{'pending-' if pending else ''}transactions"
            meta = {
                "synchronizedAt": iso(acc.synchronized_at),
                "latestSynchronization": render.synchronization(acc.latest_sync, req.base),
            }
            return self._paged(req, seq, self._txn_renderer(req, acc.id, kind), url, meta)

    def _txn_renderer(self, req: Request, account_id: str, kind: str) -> Callable[[Txn], Any]:
        zone, convention = self.state.zone, self.state.date_convention
        return lambda t: render.transaction(
            t, account_id, req.base, zone, kind, convention=convention
        )

    def _txn_one(self, req: Request, args: list[str], pending: bool) -> Response:
        with self.state.lock:
            acc = self._readable(args)
            if isinstance(acc, Response):
                return acc
            txns: TxnList = acc.pending if pending else acc.txns
            txn = txns.get(args[1])
            kind = "pendingTransaction" if pending else "transaction"
            if txn is None:
                return not_found(kind)
            return json_response(200, {"data": self._txn_renderer(req, acc.id, kind)(txn)})

    def transactions(self, req: Request, args: list[str]) -> Response:
        """``GET /accounts/{id}/transactions``."""
        return self._txn_list(req, args, pending=False)

    def transaction(self, req: Request, args: list[str]) -> Response:
        """``GET /accounts/{id}/transactions/{id}``."""
        return self._txn_one(req, args, pending=False)

    def pending_transactions(self, req: Request, args: list[str]) -> Response:
        """``GET /accounts/{id}/pending-transactions``."""
        return self._txn_list(req, args, pending=True)

    def pending_transaction(self, req: Request, args: list[str]) -> Response:
        """``GET /accounts/{id}/pending-transactions/{id}``."""
        return self._txn_one(req, args, pending=True)

    def _paged(
        self,
        req: Request,
        seq: Sequence[T],
        draw: Callable[[T], Any],
        url: str,
        meta: dict[str, Any],
    ) -> Response:
        try:
            limit, before, after = parse_paging(req.query)
            pg = page(seq, limit, before, after)
            if req.repeat and pg.start > 0:
                pg = Page(pg.start - 1, pg.end, pg.total)
        except PagingError as exc:
            return validation_error(str(exc), exc.attribute)
        items = [draw(seq.at(i)) for i in range(pg.start, pg.end)]
        links, paging = render.paged_links(url, items, pg, limit, legacy=self.state.legacy_links)
        return json_response(
            200, {"data": items, "links": links, "meta": {"paging": paging, **meta}}
        )

    # -- synchronizations ------------------------------------------------------
    def create_sync(self, req: Request, _: list[str]) -> Response:
        """``POST /synchronizations``."""
        ctype = req.headers.get("content-type", "application/json").lower()
        if "json" not in ctype:
            return error_response(
                415,
                "unsupportedMediaType",
                "Send the body as application/vnd.api+json or application/json.",
            )
        try:
            doc = loads(req.body)
        except ValueError:  # UnicodeDecodeError is a ValueError
            return bad_json()
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict):
            return validation_error("data is required and must be an object", "data")
        if data.get("type", "synchronization") != "synchronization":
            return validation_error("type must be synchronization", "type")
        attrs = data.get("attributes")
        if not isinstance(attrs, dict):
            return validation_error("attributes is required and must be an object", "attributes")
        ip = attrs.get("customerIpAddress")
        try:
            ipaddress.ip_address(ip if isinstance(ip, str) else "")
        except ValueError:
            return validation_error(
                "customerIpAddress is required and must be an IP address", "customerIpAddress"
            )
        if attrs.get("resourceType") != "account":
            return validation_error("resourceType must be account", "resourceType")
        account_id = attrs.get("resourceId")
        if not isinstance(account_id, str) or not account_id:
            return validation_error("resourceId is required", "resourceId")
        subtype = attrs.get("subtype")
        if subtype not in SYNC_SUBTYPES:
            return validation_error(f"subtype must be one of {', '.join(SYNC_SUBTYPES)}", "subtype")
        with self.state.lock:
            if account_id not in self.state.accounts:
                return not_found("account")
            sync = self.state.create_sync(account_id, str(subtype), str(ip))
            return json_response(201, {"data": render.synchronization(sync, req.base)})

    def sync(self, req: Request, args: list[str]) -> Response:
        """``GET /synchronizations/{id}``: each GET advances the status one step."""
        with self.state.lock:
            sync = self.state.syncs.get(args[0])
            if sync is None:
                return not_found("synchronization")
            self.state.advance_sync(sync)
            return json_response(200, {"data": render.synchronization(sync, req.base)})

    def sync_updates(self, req: Request, args: list[str]) -> Response:
        """``GET /synchronizations/{id}/updated-transactions``."""
        return self._sync_updates(req, args, pending=False)

    def sync_pending_updates(self, req: Request, args: list[str]) -> Response:
        """``GET /synchronizations/{id}/updated-pending-transactions`` (always empty)."""
        return self._sync_updates(req, args, pending=True)

    def _sync_updates(self, req: Request, args: list[str], pending: bool) -> Response:
        with self.state.lock:
            sync = self.state.syncs.get(args[0])
            if sync is None:
                return not_found("synchronization")
            kind = "pendingTransaction" if pending else "transaction"
            seq = ListSeq([] if pending else list(sync.updated))
            url = (
                f"{req.base}/synchronizations/{sync.id}/"
                f"updated-{'pending-' if pending else ''}transactions"
            )
            return self._paged(req, seq, self._txn_renderer(req, sync.account_id, kind), url, {})


#: (path pattern, method -> handler, public?) -- "*" matches one segment.
ROUTES: tuple[tuple[tuple[str, ...], dict[str, Handler], bool], ...] = (
    ((), {"GET": Api.root}, True),
    (("oauth2", "token"), {"POST": Api.token}, True),
    (("oauth2", "revoke"), {"POST": Api.revoke}, True),
    (("financial-institutions",), {"GET": Api.institutions}, True),
    (("financial-institutions", "*"), {"GET": Api.institution}, True),
    (("accounts",), {"GET": Api.accounts}, False),
    (("accounts", "*"), {"GET": Api.account}, False),
    (("accounts", "*", "transactions"), {"GET": Api.transactions}, False),
    (("accounts", "*", "transactions", "*"), {"GET": Api.transaction}, False),
    (("accounts", "*", "pending-transactions"), {"GET": Api.pending_transactions}, False),
    (("accounts", "*", "pending-transactions", "*"), {"GET": Api.pending_transaction}, False),
    (("synchronizations",), {"POST": Api.create_sync}, False),
    (("synchronizations", "*"), {"GET": Api.sync}, False),
    (("synchronizations", "*", "updated-transactions"), {"GET": Api.sync_updates}, False),
    (
        ("synchronizations", "*", "updated-pending-transactions"),
        {"GET": Api.sync_pending_updates},
        False,
    ),
)
