"""From an HTTP answer of Ponto to JSON or to the package's typed errors.

Contract: :func:`decode` parses a body as JSON with numbers as
:class:`~decimal.Decimal` (never float) or raises
:class:`~beancount_ponto.errors.MalformedResponseError`; :func:`error_from`
maps an error answer (JSON:API ``errors`` or OAuth ``error``) to the error
tree by status and code, keeping Ponto's request id; messages never hold a
secret. An error carrying ``meta.financialInstitutionResponse`` (the bank's
own answer, e.g. ``invalidCredentials``) is a
:class:`~beancount_ponto.errors.BankError`, never a credentials error.
:func:`origin` compares URLs by scheme, host and port.
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
    BankError,
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
BANK_TEXT_LIMIT = 160


def _bank_answer(error: dict[str, Any]) -> tuple[bool, int | None, str | None]:
    """Whether ``error`` carries the bank's answer; the bank's status and text."""
    meta = error.get("meta")
    answer = meta.get("financialInstitutionResponse") if isinstance(meta, dict) else None
    if not isinstance(answer, dict):
        return False, None, None
    status = answer.get("statusCode")
    body = answer.get("body")
    text: str | None
    if isinstance(body, dict):
        picked = next(
            (body[k] for k in ("error_description", "message", "detail", "error") if body.get(k)),
            None,
        )
        text = str(picked) if picked is not None else json.dumps(body, default=str)
    else:
        text = str(body) if body not in (None, "") else None
    if text is not None:
        text = " ".join(text.split())
        if len(text) > BANK_TEXT_LIMIT:
            text = text[: BANK_TEXT_LIMIT - 1] + "\u2026"
    return True, status if isinstance(status, int) else None, text


def _bank_error(
    status: int, kwargs: dict[str, Any], bank: tuple[int | None, str | None]
) -> BankError:
    bank_status, bank_text = bank
    said = f"the bank answered {bank_status}" if bank_status else "the bank answered"
    said += f": {bank_text}" if bank_text else ""
    code = kwargs.get("code") or "error"
    message = (
        f"the bank refused Ponto's request ({code}; {said}). This is the bank's error, "
        "not your Ponto Client ID or Secret: check the account's bank connection in the "
        "Ponto dashboard (https://dashboard.myponto.com) and reauthorize it if the bank asks"
    )
    if kwargs.get("request_id"):
        message += f" (Ponto request id {kwargs['request_id']})"
    return BankError(
        status, bank_status=bank_status, bank_text=bank_text, message=message, **kwargs
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
            message=f"Ponto refuses this account: the bank consent is revoked or invalid "
            f"({code}); reauthorize this account in the Ponto dashboard "
            f"(https://dashboard.myponto.com), then sync again",
        )
    from_bank, bank_status, bank_text = _bank_answer(first)
    if from_bank:
        return _bank_error(status, kwargs, (bank_status, bank_text))
    if status in (401, 403):
        return AuthError(status, **kwargs)
    if status == 404:
        return NotFoundError(status, **kwargs)
    if status == 429:
        return RateLimitError(status, retry_after=retry_after(response), **kwargs)
    if status >= 500:
        return ServerError(status, **kwargs)
    return ApiError(status, **kwargs)
