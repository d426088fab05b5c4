"""Fava extension ``fava_ponto``: the Ponto page (credentials, links, consent, sync now).

Load it from a ledger with::

    2026-01-01 custom "fava-extension" "fava_ponto"

or, with settings (paths relative to the ledger)::

    2026-01-01 custom "fava-extension" "fava_ponto" "{'config': 'ponto.toml', 'auto_fetch': False}"

The optional config (a Python literal) is the path of the bean-ponto config
file or a dict, relative to the ledger; the default is ``ponto.toml`` beside
it (see :class:`fava_ponto.forms.PageSettings`).

Contract: this module is Flask glue only; every decision is made by
:class:`beancount_ponto.web.PontoPage`. Endpoints (under
``/<ledger>/extension/FavaPonto/``) answer ``{"success": true, "data": ...}``
or ``{"success": false, "error": "..."}``. Every POST first refuses cross-site
requests (403), then anything but a JSON object body (415/400). Under Fava's
``--read-only`` the page renders and every change is refused with a JSON 401.
Consent and sync problems are added to Fava's error list after each load.

Hardening (the page and every endpoint, not the rest of Fava): a ``Host``
header that is neither a loopback name nor listed in the config's ``hosts``
is refused with 403 (DNS rebinding); every answer carries
``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors
'none'`` (clickjacking). Fava's Import page may not move or delete
bean-ponto's own files (config, output ledger, credentials): such a
``PUT api/move`` / ``DELETE api/document`` is refused with 400.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from babel.messages.extract import extract_from_file
from fava.ext import FavaExtensionBase, FavaExtensionError, extension_endpoint
from flask import abort, after_this_request, current_app, jsonify, make_response, request
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from beancount_ponto.errors import (
    AuthError,
    ConfigError,
    LedgerError,
    LockTimeoutError,
    PontoError,
)
from beancount_ponto.i18n import _, use
from fava_ponto import i18n
from fava_ponto.forms import host_error
from fava_ponto.page import PageInputError, PageSettings, PontoPage, cross_site_error

if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal

    from fava.core import FavaLedger
    from flask.wrappers import Response

    from beancount_ponto.consent import ConsentState
    from fava_ponto.view import PageView

READ_ONLY_MESSAGE = "Fava runs read-only (--read-only): changes are disabled on this page."
_JS = Path(__file__).parent / "FavaPonto.js"
#: Headers on every answer of the page and its endpoints: never inside a frame.
NO_FRAMING = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
_CSS = (Path(__file__).parent / "FavaPonto.css").read_text(encoding="utf-8")


def _answer(data: Any = None, error: str | None = None, status: int = 200) -> Response:
    body = {"success": True, "data": data} if error is None else {"success": False, "error": error}
    response = make_response(jsonify(body), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _no_framing(response: Response) -> Response:
    response.headers.update(NO_FRAMING)
    return response


def _status(exc: PontoError) -> int:
    if isinstance(exc, (PageInputError, ConfigError, AuthError)):
        return 400
    if isinstance(exc, LockTimeoutError):
        return 409
    return 500 if isinstance(exc, LedgerError) else 502


def _read_only() -> bool:
    """Whether Fava was started with ``--read-only`` (it installs a ``_read_only`` hook)."""
    hooks = current_app.before_request_funcs.get(None, [])
    return bool(current_app.config.get("READ_ONLY")) or any(
        getattr(hook, "__name__", "") == "_read_only" for hook in hooks
    )


def _cross_site() -> str | None:
    return cross_site_error(
        site=request.headers.get("Sec-Fetch-Site"),
        origin=request.headers.get("Origin"),
        host=request.host,
        scheme=request.scheme,
    )


def _endpoint(
    name: str, methods: list[str] | None = None
) -> Callable[[Callable[[FavaPonto, dict[str, Any]], Any]], Callable[[FavaPonto], Response]]:
    """Fava's ``extension_endpoint`` around :func:`_api` (Fava's decorator is loosely typed)."""

    def decorator(
        func: Callable[[FavaPonto, dict[str, Any]], Any],
    ) -> Callable[[FavaPonto], Response]:
        endpoint = _api(func)
        cast("Any", extension_endpoint)(name, methods)(endpoint)
        return endpoint

    return decorator


def _api(
    func: Callable[[FavaPonto, dict[str, Any]], Any],
) -> Callable[[FavaPonto], Response]:
    """Guard an endpoint: same-site JSON for changes, the common answer shape."""

    @functools.wraps(func)
    def endpoint(self: FavaPonto) -> Response:
        body: dict[str, Any] = {}
        if request.method != "GET":
            problem = _cross_site()
            if problem:
                return _answer(error=problem, status=403)
            try:
                raw = request.get_json()
            except UnsupportedMediaType:
                return _answer(error=_("send JSON (Content-Type: application/json)"), status=415)
            except BadRequest:
                return _answer(error=_("the body is not valid JSON"), status=400)
            if not isinstance(raw, dict):
                return _answer(error=_("the body must be a JSON object"), status=400)
            body = raw
        try:
            return _answer(func(self, body))
        except PontoError as exc:
            return _answer(error=str(exc), status=_status(exc))

    return endpoint


@functools.cache
def _js_messages() -> tuple[str, ...]:
    """The msgids of the script (its ``t("...")`` calls), read as the catalog's extractor reads."""
    found = extract_from_file("javascript", str(_JS), keywords={"t": None}, comment_tags=())
    return tuple(dict.fromkeys(str(message) for _line, message, _comments, _ctx in found))


class FavaPonto(FavaExtensionBase):
    """The Ponto page; a thin adapter over :class:`~beancount_ponto.web.PontoPage`."""

    report_title = "Ponto"
    has_js_module = True

    def __init__(self, ledger: FavaLedger, config: str | None = None) -> None:
        super().__init__(ledger, config)
        self.settings = PageSettings.parse(self.config, self.ledger.join_path)
        self.page = PontoPage(
            Path(ledger.beancount_file_path), self.settings, notify=ledger.watcher.notify
        )

    @property
    def css(self) -> Markup:
        """The page's style sheet (a static file shipped with the extension)."""
        return Markup(_CSS)  # a packaged file, no user data

    def money(self, value: Decimal | None, currency: str) -> str:
        """An amount as Fava shows it in this ledger (its precision and locale), with currency."""
        if value is None:
            return "\u2014"
        return f"{self.ledger.format_decimal(value, currency)} {currency}"

    def gettext(self, message: str, **values: object) -> Markup:
        """The template's ``_``: ``message`` in the page's language, values escaped.

        The catalogs are the package's own files, so the translated text may
        hold the same markup (``<em>``, ``<code>``) as the English; every value
        filled into its ``%(name)s`` placeholders is escaped.
        """
        text = Markup(i18n.catalog().gettext(message))  # packaged catalog, no user data
        return text % values if values else text

    @property
    def language(self) -> str:
        """The page's language code (``en``, ``nl``, ``fr``...) as Fava selected it."""
        return i18n.language()

    def consent_word(self, state: ConsentState) -> str:
        """A consent state as the page names it, in the page's language."""
        words: dict[ConsentState, str] = {
            "ok": _("ok"),
            "expiring": _("expiring"),
            "expected_passed": _("expected passed"),
            "revoked": _("revoked"),
            "unknown": _("unknown"),
        }
        return words[state]

    def js_strings(self) -> str:
        """The script's messages in the page's language, as JSON (English text as keys)."""
        translations = i18n.catalog()
        return json.dumps({m: translations.gettext(m) for m in _js_messages()})

    def after_load_file(self) -> None:
        """Hand the new load to the page and list Ponto problems among Fava's errors.

        Fava also watches the bean-ponto config from now on, so an edit (or a
        broken file) reloads the ledger and shows up in Fava's *Errors*.
        """
        files, folders = self.ledger.paths_to_watch()
        self.ledger.watcher.update([*files, self.settings.config_path], folders)
        options = self.ledger.options
        self.page.ledger_loaded(
            self.ledger.all_entries,
            (options["name_assets"], options["name_liabilities"]),
            [self.ledger.beancount_file_path, *options["include"]],
        )
        if not self.settings.fava_errors:
            return
        entry = next(
            (
                e
                for e in self.ledger.all_entries_by_type.Custom
                if e.type == "fava-extension" and e.values and e.values[0].value == "fava_ponto"
            ),
            None,
        )
        meta = entry.meta if entry is not None else None
        for message in self.page.problems():
            self.ledger.extensions.errors.append(FavaExtensionError(meta, message, entry))

    def before_request(self) -> None:
        """Run before each request; acts on this page's requests (and two Import-page calls).

        Refuses unknown ``Host`` names, marks answers as never framed, answers
        read-only refusals as JSON (Fava's own answer is HTML), and reloads the
        ledger when another writer created the output file after Fava loaded.
        """
        self._guard_own_files()
        own = (f"/extension/{self.name}/", f"/extension_js_module/{self.name}.js")
        if not any(part in request.path for part in own):
            return
        after_this_request(_no_framing)
        use(i18n.catalog())
        problem = host_error(request.host, self.settings.hosts)
        if problem:
            if "/extension/" in request.path and request.path.rstrip("/").endswith(self.name):
                abort(make_response(problem + "\n", 403, {"Content-Type": "text/plain"}))
            abort(_answer(error=problem, status=403))
        if request.method != "GET" and _read_only():
            abort(_answer(error=_(READ_ONLY_MESSAGE), status=401))
        unseen = self.page.unseen_output()
        if unseen is not None:
            self.ledger.watcher.notify(unseen)
            self.ledger.changed()

    def _guard_own_files(self) -> None:
        """Refuse Fava's Import page moving or deleting bean-ponto's own files.

        One click on *Move* would file ``ponto.toml`` away into the documents
        tree and break every command; the page answers as Fava's API does
        (``{"error": ...}``), so the Import page shows the message.
        """
        if request.blueprint != "json_api":
            return
        if request.method == "PUT" and request.path.endswith("/api/move"):
            raw = request.get_json(silent=True)
            name = raw.get("filename") if isinstance(raw, dict) else None
        elif request.method == "DELETE" and request.path.endswith("/api/document"):
            name = request.args.get("filename")
        else:
            return
        if isinstance(name, str) and name and Path(name).resolve() in self.page.own_files():
            use(i18n.catalog())
            message = _(
                "%(name)s belongs to bean-ponto and stays where it is; "
                "to import, use Extract (the Ponto page's Sync now writes directly)",
                name=Path(name).name,
            )
            abort(make_response(jsonify({"error": message}), 400))

    def view(self) -> PageView:
        """What the template shows (called once per rendering)."""
        may_fetch = _cross_site() is None and "ponto_refresh" not in request.args
        return self.page.view(read_only=_read_only(), may_fetch=may_fetch)

    @_endpoint("overview")
    def overview(self, _body: dict[str, Any]) -> Any:
        """GET: the page's data as JSON (no secrets)."""
        return self.page.view(read_only=_read_only(), may_fetch=False).to_json()

    @_endpoint("job")
    def job(self, _body: dict[str, Any]) -> Any:
        """GET: the current or last sync job with its progress messages."""
        return self.page.job()

    @_endpoint("credentials", ["POST"])
    def credentials(self, body: dict[str, Any]) -> Any:
        """POST {client_id, client_secret}: verify with Ponto, then store."""
        return self.page.save_credentials(body)

    @_endpoint("link", ["POST"])
    def link(self, body: dict[str, Any]) -> Any:
        """POST {ponto_id, account}: link a Ponto account to a ledger account."""
        return self.page.link(body)

    @_endpoint("unlink", ["POST"])
    def unlink(self, body: dict[str, Any]) -> Any:
        """POST {ponto_id}: remove a link."""
        return self.page.unlink(body)

    @_endpoint("sync", ["POST"])
    def sync(self, _body: dict[str, Any]) -> Any:
        """POST {}: start Sync now (bank refresh with the user's IP, then fetch)."""
        return self.page.start_sync(request.remote_addr)
