"""Transport-neutral request and response values of the simulator.

Contract: :class:`Request` is what the HTTP layer parsed (method, target with
query, lower-cased headers, raw body, the base URL the client used, a request
id); :class:`Response` is what it must send. Helpers build JSON responses;
bodies are always JSON unless a fault says otherwise. ``drop=True`` means:
close the connection without answering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from beancount_ponto.simulator.jsonutil import dumps
from beancount_ponto.simulator.render import error


@dataclass
class Request:
    """One parsed HTTP request.

    Attributes:
        method: upper-case HTTP method.
        target: path with query string, as received.
        headers: header names lower-cased.
        body: the raw body.
        base: scheme, host and API prefix the client used (no trailing slash).
        request_id: the ``ibanity-request-id`` of the answer.
        repeat: a ``repeat`` fault applies (a list page starts one item early).
    """

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    base: str
    request_id: str
    repeat: bool = False

    @property
    def query(self) -> dict[str, str]:
        """Query parameters (the last value wins for repeated names)."""
        _, _, query = self.target.partition("?")
        return dict(parse_qsl(query, keep_blank_values=True))


@dataclass
class Response:
    """What to send back."""

    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    content_type: str = "application/json"


def json_response(status: int, document: object, **headers: str) -> Response:
    """A JSON response (Decimal-exact)."""
    return Response(status, dumps(document), dict(headers))


def error_response(status: int, code: str, detail: str, **meta: Any) -> Response:
    """A JSON:API error response with one error."""
    return json_response(status, error(code, detail, **meta))


def not_found(resource: str) -> Response:
    """404 ``resourceNotFound`` for ``resource`` (e.g. ``account``)."""
    return error_response(
        404, "resourceNotFound", "The requested resource was not found.", resource=resource
    )


def validation_error(detail: str, attribute: str) -> Response:
    """400 ``validationError`` naming the offending attribute."""
    return error_response(400, "validationError", detail, attribute=attribute)


def bad_json() -> Response:
    """400 for a body that is not a JSON object."""
    return error_response(400, "invalidRequestBody", "The request body is not a valid JSON object.")
