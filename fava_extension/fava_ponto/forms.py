"""What comes into the Fava page: the extension's settings and request input.

Contract:

* :meth:`PageSettings.parse` reads the extension's optional config literal:
  a path string of ``ponto.toml`` or a dict (``config``,
  ``fetch_stale_minutes``, ``consent_warning_days``, ``auto_fetch``,
  ``fava_errors``); paths are relative to the ledger (``join_path``); the
  default is ``ponto.toml`` beside it. A bad value is reported in
  :attr:`PageSettings.problem` and replaced by its default, never fatal.
  ``hosts`` lists the extra host names (besides loopback) Fava is served as.
* :func:`host_error` is the DNS-rebinding check the page and every endpoint
  run: the ``Host`` header must name a loopback address (``localhost``,
  ``127.0.0.0/8``, ``[::1]``, any port) or one of ``hosts``.
* :func:`cross_site_error` is the check every state-changing endpoint runs
  before anything else: ``Sec-Fetch-Site`` must be ``same-origin`` or
  ``none`` and ``Origin``, when sent, must name the request's own host.
* :func:`text_field` validates one string field of a JSON body; problems
  raise :class:`PageInputError` with a message naming the field, never
  echoing its value.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from beancount_ponto.errors import PontoError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

MAX_FIELD = 256
_SETTING_KEYS = (
    "config",
    "fetch_stale_minutes",
    "consent_warning_days",
    "auto_fetch",
    "fava_errors",
    "hosts",
)
LOOPBACK_NAMES = ("localhost",)


class PageInputError(PontoError):
    """The request to the Ponto page is not valid."""


def text_field(body: Mapping[str, Any], key: str, label: str) -> str:
    """The stripped, printable, non-empty string ``body[key]``.

    Raises:
        PageInputError: if it is missing, empty, too long or not printable.
    """
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PageInputError(f"{label} is required")
    value = value.strip()
    if len(value) > MAX_FIELD or not value.isprintable():
        raise PageInputError(f"{label} is not valid")
    return value


@dataclass(frozen=True)
class PageSettings:
    """The extension's own settings, parsed once from its config literal."""

    config_path: Path
    fetch_stale_minutes: int | None = None
    consent_warning_days: int | None = None
    auto_fetch: bool = True
    fava_errors: bool = True
    hosts: tuple[str, ...] = ()
    problem: str | None = None

    @classmethod
    def parse(cls, raw: object, join_path: Callable[[str], Path]) -> PageSettings:
        """Parse the config literal (None, a path string or a dict)."""
        if raw is None or raw == "":
            return cls(join_path("ponto.toml"))
        if isinstance(raw, str):
            return cls(join_path(raw))
        if not isinstance(raw, dict):
            return cls(join_path("ponto.toml"), problem="config must be a path string or a dict")
        problems = [f"unknown key {k!r}" for k in raw if k not in _SETTING_KEYS]
        values: dict[str, Any] = {}
        for key, kind in (
            ("fetch_stale_minutes", int),
            ("consent_warning_days", int),
            ("auto_fetch", bool),
            ("fava_errors", bool),
        ):
            if key in raw:
                ok = isinstance(raw[key], kind) and (kind is bool or not isinstance(raw[key], bool))
                if ok:
                    values[key] = raw[key]
                else:
                    problems.append(f"{key} must be a {kind.__name__}")
        hosts = raw.get("hosts", [])
        if isinstance(hosts, (list, tuple)) and all(isinstance(h, str) and h for h in hosts):
            values["hosts"] = tuple(h.strip().lower().rstrip(".") for h in hosts)
        else:
            problems.append("hosts must be a list of host names")
        path = raw.get("config", "ponto.toml")
        if not isinstance(path, str):
            problems.append("config must be a path string")
            path = "ponto.toml"
        problem = "; ".join(problems) or None
        return cls(join_path(path), problem=problem, **values)


def _host_of(url_or_host: str, scheme: str | None = None) -> str:
    parts = urlsplit(url_or_host if scheme is None else f"{scheme}://{url_or_host}")
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return "\0invalid"
    return host if port in (None, default) else f"{host}:{port}"


def cross_site_error(
    *, site: str | None, origin: str | None, host: str, scheme: str = "http"
) -> str | None:
    """Why a state-changing request must be refused as cross-site, or None.

    Browsers send ``Sec-Fetch-Site`` (it must be ``same-origin`` or ``none``)
    and ``Origin`` on POSTs (its host must be the request's ``Host``).

    Args:
        site: the ``Sec-Fetch-Site`` header, if sent.
        origin: the ``Origin`` header, if sent.
        host: the request's ``Host`` header (``name[:port]``).
        scheme: the request's scheme, for default ports.
    """
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return "refused: the request comes from another site"
    if origin is not None and (
        origin.strip() == "null" or _host_of(origin.strip()) != _host_of(host, scheme)
    ):
        return "refused: the request's Origin is not this Fava"
    return None


def _hostname(host: str) -> str | None:
    """The name part of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``)."""
    try:
        parts = urlsplit(f"//{host.strip()}")
        _ = parts.port  # a malformed port makes the whole header invalid
    except ValueError:
        return None
    name = (parts.hostname or "").rstrip(".")
    return name or None


def host_error(host: str, allowed: tuple[str, ...] = ()) -> str | None:
    """Why a request's ``Host`` header must be refused (DNS rebinding), or None.

    Args:
        host: the request's ``Host`` header (``name[:port]``).
        allowed: extra host names (lower case, no port) the user listed.

    Returns:
        None for a loopback name or address (any port) or a listed name,
        else a one-line message naming the fix.
    """
    name = _hostname(host)
    if name is not None:
        if name in LOOPBACK_NAMES or name in allowed:
            return None
        try:
            if ipaddress.ip_address(name).is_loopback:
                return None
        except ValueError:
            pass
    shown = (name or host)[:80]
    return (
        f"refused: this Fava is not served as {shown!r}; if it is yours, add it to the "
        "fava_ponto extension's config, e.g. \"{'hosts': ['" + shown + "']}\""
    )
