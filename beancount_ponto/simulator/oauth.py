"""The OAuth2 endpoints of the simulator (custom integration: client credentials).

Contract: ``POST /oauth2/token`` authenticates the client with HTTP Basic
``client_id:client_secret`` (constant-time comparison) and accepts
``grant_type=client_credentials`` in the form body or the query string.
Failures use the OAuth2 (Hydra) error shape ``{"error", "error_description"}``:
401 ``invalid_client``, 400 ``invalid_request`` (no grant) or
``unsupported_grant_type``. Success: ``{"access_token", "expires_in", "scope": "ai",
"token_type": "bearer"}``. ``POST /oauth2/revoke`` forgets a token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from beancount_ponto.simulator.messages import Response, json_response

if TYPE_CHECKING:
    from beancount_ponto.simulator.messages import Request
    from beancount_ponto.simulator.state import SimState

UNSUPPORTED = "The authorization grant type is not supported by the authorization server."


def client_ok(state: SimState, req: Request) -> bool:
    """True if ``req`` carries HTTP Basic credentials of the configured client."""
    scheme, _, cred = req.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return False
    client_id, sep, secret = decoded.partition(":")
    id_ok = hmac.compare_digest(client_id.encode(), state.client_id.encode())
    secret_ok = hmac.compare_digest(secret.encode(), state.client_secret.encode())
    return bool(sep) and id_ok and secret_ok


def _invalid_client() -> Response:
    return json_response(
        401, {"error": "invalid_client", "error_description": "Client authentication failed"}
    )


def token(state: SimState, req: Request) -> Response:
    """Answer ``POST /oauth2/token``."""
    if not client_ok(state, req):
        return _invalid_client()
    form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    grant = form.get("grant_type") or req.query.get("grant_type")
    if not grant:
        return json_response(
            400, {"error": "invalid_request", "error_description": "The grant_type is missing."}
        )
    if grant != "client_credentials":
        return json_response(
            400, {"error": "unsupported_grant_type", "error_description": UNSUPPORTED}
        )
    document = {
        "access_token": state.issue_token(),
        "expires_in": state.token_ttl,
        "scope": "ai",
        "token_type": "bearer",
    }
    return json_response(200, document, **{"Cache-Control": "no-store"})


def revoke(state: SimState, req: Request) -> Response:
    """Answer ``POST /oauth2/revoke`` (form field ``token``)."""
    if not client_ok(state, req):
        return _invalid_client()
    value = dict(parse_qsl(req.body.decode("utf-8", "replace"))).get("token", "")
    with state.lock:
        state.tokens.pop(value, None)
    return json_response(200, {})
