"""From an HTTP answer of Ponto to JSON or to the package's typed errors.

Contract: :func:`decode` parses a body as JSON with numbers as
:class:`~decimal.Decimal` (never float) or raises
:class:`~beancount_ponto.errors.MalformedResponseError`; :func:`error_from`
maps an error answer (JSON:API ``errors`` or OAuth ``error``) to the error
tree by status and code, keeping Ponto's request id; messages never hold a
secret. :func:`origin` compares URLs by scheme, host and port.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.parse
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from beancount_ponto.errors import (
    ApiError,
    AuthError,
    BadCredentialsError,
    ConsentExpiredError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

if TYPE_CHECKING:
    import requests

CONSENT_ERROR_CODES = frozenset(
    {"authorizationInvalid", "authorizationExpired", "accountAuthorizationExpired"}
)


def retry_after(response: requests.Response) -> float | None:
    """Seconds the ``Retry-After`` header asks to wait (number or HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, lower-case host and port (default ports filled in) of ``url``."""
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port


def decode(response: requests.Response) -> Any:
    """The JSON body (``{}`` when empty), numbers as Decimal."""
    if not response.content:
        return {}
    try:
        return json.loads(response.content.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise MalformedResponseError(
            f"Ponto answered {response.status_code} with a body that is not JSON"
        ) from None


def error_from(response: requests.Response, body: Any, *, token_call: bool) -> ApiError:
    """The typed error for an error answer; ``token_call`` for the OAuth token endpoint."""
    status = response.status_code
    request_id = response.headers.get("ibanity-request-id")
    errors = body.get("errors") if isinstance(body, dict) else None
    errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    first = errors[0] if errors else {}
    code = first.get("code") if isinstance(first.get("code"), str) else None
    detail = first.get("detail") if isinstance(first.get("detail"), str) else None
    if token_call and isinstance(body, dict):
        code = code or body.get("error")
        detail = detail or body.get("error_description")
    kwargs: dict[str, Any] = {
        "code": code,
        "detail": detail,
        "request_id": request_id,
        "errors": errors,
    }
    if token_call and status in (400, 401, 403):
        return BadCredentialsError(
            status,
            **kwargs,
            message="Ponto refused the Client ID or Client Secret "
            f"({code or status}); check them in the Ponto dashboard",
        )
    if code in CONSENT_ERROR_CODES:
        return ConsentExpiredError(
            status,
            **kwargs,
            message="the bank consent for this account has expired or is invalid; "
            "reauthorize the account in the Ponto dashboard",
        )
    if status in (401, 403):
        return AuthError(status, **kwargs)
    if status == 404:
        return NotFoundError(status, **kwargs)
    if status == 429:
        return RateLimitError(status, retry_after=retry_after(response), **kwargs)
    if status >= 500:
        return ServerError(status, **kwargs)
    return ApiError(status, **kwargs)
