"""HTTP client for the Ponto API (custom integrations, ``api.myponto.com``).

Contract:

* All HTTP goes through :meth:`PontoClient._send`, the one request seam. It
  adds the bearer token, a timeout and the User-Agent; each attempt is
  :meth:`PontoClient._request` (one HTTP exchange mapped to a body or a typed
  error) and whether to try again is the client's
  :class:`~beancount_ponto.ponto.retry.RetryPolicy`.
* The access token comes from the client-credentials grant (HTTP Basic),
  is cached in memory, renewed a minute before it expires and once more when
  Ponto answers 401 to a request.
* Transient failures (dropped or refused connections, timeouts, 5xx but a
  bank's refusal, 429, an answer that is not JSON) are retried with
  exponential backoff, honouring ``Retry-After``, at most
  ``RetryPolicy.max_retries`` times and ``RetryPolicy.budget_seconds`` in
  all; then the last typed :mod:`~beancount_ponto.errors` error is raised.
* JSON numbers are parsed as :class:`~decimal.Decimal`, never float.
* Lists are JSON:API collections: :meth:`PontoClient.paginate` asks for
  ``page[limit]=100`` and follows ``links.next`` verbatim, adding
  ``page[limit]=100`` to an old-style link that carries no limit (neither
  ``page[limit]`` nor legacy ``limit``; Ponto would fall back to 10).
* Secrets never appear in exceptions or logs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import urllib.parse
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests

from beancount_ponto import __version__
from beancount_ponto.errors import (
    AuthError,
    MalformedResponseError,
    PontoError,
    RequestTimeoutError,
    TransportError,
)
from beancount_ponto.ponto.models import Account, FinancialInstitution, Synchronization, Transaction
from beancount_ponto.ponto.responses import decode, error_from, origin
from beancount_ponto.ponto.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

PAGE_LIMIT = 100
#: Seconds without an answer after which a waiting person is told Ponto is slow.
SLOW_NOTICE_SECONDS = 5.0
MAX_PAGES = 100_000
TOKEN_MARGIN_SECONDS = 60.0
_TRANSIENT_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _has_limit(url: str) -> bool:
    """Whether a ``links.next`` URL says its page size (``page[limit]`` or ``limit``)."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    return "page[limit]" in query or "limit" in query


def exponential_backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): 0.5, 1, 2, 4... capped at 16."""
    return RetryPolicy().backoff(attempt)


class PontoClient:
    """A Ponto API client for one custom integration.

    Args:
        client_id: the integration's Client ID.
        client_secret: the integration's Client Secret (kept out of repr and errors).
        base_url: the API root, default ``https://api.myponto.com``.
        session: a ``requests.Session`` to use (one is made otherwise).
        cert: optional client TLS certificate, a path or ``(cert, key)`` paths.
        timeout: seconds to wait for each answer.
        retry: when and how long to wait before trying a failed request again
            (default :class:`~beancount_ponto.ponto.retry.RetryPolicy`).
        max_attempts: when given, tries per request (the first included):
            overrides ``retry.max_retries`` with ``max_attempts - 1``.
        max_retry_seconds: when given, overrides ``retry.budget_seconds``.
        sleep: the sleep function (tests pass a fast one).

    Attributes:
        on_wait: when set, told (one line, no secret) when an answer takes longer
            than ``slow_notice`` seconds (default :data:`SLOW_NOTICE_SECONDS`)
            and before each retry, so a person is not left with a silent wait.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str = "https://api.myponto.com",
        session: requests.Session | None = None,
        cert: str | tuple[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_attempts: int | None = None,
        max_retry_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"beancount-ponto/{__version__}"
        self.session.headers["Accept"] = "application/json"
        if cert:
            self.session.cert = cert
        self.timeout = timeout
        policy = retry or RetryPolicy()
        if max_attempts is not None:
            policy = dataclasses.replace(policy, max_retries=max(0, max_attempts - 1))
        if max_retry_seconds is not None:
            policy = dataclasses.replace(policy, budget_seconds=max_retry_seconds)
        self.retry = policy
        self.sleep = sleep
        self._token: str | None = None
        self._token_expires = 0.0
        self.request_count = 0
        self.on_wait: Callable[[str], None] | None = None
        self.slow_notice = SLOW_NOTICE_SECONDS

    def __repr__(self) -> str:
        return f"PontoClient(client_id={self.client_id!r}, base_url={self.base_url!r})"

    @property
    def max_attempts(self) -> int:
        """Tries per request, the first included (``retry.max_retries + 1``); settable."""
        return self.retry.max_retries + 1

    @max_attempts.setter
    def max_attempts(self, attempts: int) -> None:
        self.retry = dataclasses.replace(self.retry, max_retries=max(0, attempts - 1))

    @property
    def max_retry_seconds(self) -> float:
        """Seconds a request may spend in all (``retry.budget_seconds``); settable."""
        return self.retry.budget_seconds

    @max_retry_seconds.setter
    def max_retry_seconds(self, seconds: float) -> None:
        self.retry = dataclasses.replace(self.retry, budget_seconds=seconds)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    # -- the request seam -------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        """An absolute URL on the API's own origin (the token is never sent elsewhere).

        Raises:
            MalformedResponseError: an absolute URL (a ``links.next`` from Ponto)
                points to another scheme, host or port than ``base_url``.
        """
        if not path_or_url.startswith(("http://", "https://")):
            return f"{self.base_url}/{path_or_url.lstrip('/')}"
        if origin(path_or_url) != origin(self.base_url):
            raise MalformedResponseError(
                f"Ponto sent a link to another site ({origin(path_or_url)}); not followed"
            )
        return path_or_url

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        token_call: bool = False,
    ) -> Any:
        """Send a request, retried as :attr:`retry` decides; return the decoded JSON body.

        A 401 to an API call renews the token and asks once more (not a retry).

        Raises:
            TransportError: the connection failed on every attempt.
            MalformedResponseError: the answer was never JSON.
            ApiError: (a subclass of) Ponto's error answer.
        """
        url = self._url(path_or_url)
        headers: dict[str, str] = {}
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            headers["Ibanity-Idempotency-Key"] = str(uuid.uuid4())
        deadline = time.monotonic() + self.retry.budget_seconds
        refreshed = False
        retries = 0
        while True:
            if not token_call:
                headers["Authorization"] = f"Bearer {self._access_token()}"
            try:
                return self._request(
                    method, url, params=params, json_body=json_body, data=data, auth=auth,
                    headers=headers, token_call=token_call,
                )  # fmt: skip
            except AuthError as exc:
                if exc.status != 401 or token_call or refreshed:
                    raise
                refreshed = True
                self._token = None
            except PontoError as failure:
                wait = self.retry.decide(failure, retries, deadline - time.monotonic())
                if wait is None:
                    raise
                retries += 1
                log.info("Ponto request failed (%s); retry %d in %.1f s", failure, retries, wait)
                if self.on_wait:
                    self.on_wait(
                        f"Ponto request failed ({failure}); retry {retries} of "
                        f"{self.retry.max_retries} in {wait:.0f} s"
                    )
                self.sleep(wait)

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None,
        json_body: dict[str, Any] | None,
        data: dict[str, str] | None,
        auth: tuple[str, str] | None,
        headers: dict[str, str],
        token_call: bool,
    ) -> Any:
        """Make exactly one HTTP attempt; return the decoded JSON body of a success.

        Raises:
            RequestTimeoutError: no answer within :attr:`timeout`.
            TransportError: the connection was refused or dropped.
            MalformedResponseError: the answer is not JSON.
            ApiError: (a subclass of) Ponto's error answer (status 400 and up).
        """
        notice = self._slow_notice(method, url)
        self.request_count += 1
        try:
            response = self.session.request(
                method, url, params=params, json=json_body, data=data, auth=auth,
                headers=headers, timeout=self.timeout,
            )  # fmt: skip
        except requests.exceptions.Timeout:
            raise RequestTimeoutError(f"Ponto did not answer within {self.timeout:g} s") from None
        except _TRANSIENT_EXCEPTIONS as exc:
            raise TransportError(
                f"cannot reach Ponto at {self.base_url} ({exc.__class__.__name__})"
            ) from None
        finally:
            notice.cancel()
        log.debug("%s %s -> %s", method, response.url, response.status_code)
        body = decode(response)
        if response.status_code >= 400:
            raise error_from(response, body, token_call=token_call)
        return body

    def _slow_notice(self, method: str, url: str) -> threading.Timer:
        """A started timer telling ``on_wait`` that an answer is slow (cancel it on answer)."""
        path = urllib.parse.urlsplit(url).path
        text = (
            f"Ponto is slow to answer {method} {path} (over {self.slow_notice:g} s; "
            f"waiting up to {self.timeout:g} s)..."
        )
        timer = threading.Timer(self.slow_notice, self.on_wait or (lambda _text: None), (text,))
        timer.daemon = True
        if self.on_wait:
            timer.start()
        return timer

    def _access_token(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expires:
            self.authenticate()
        assert self._token is not None
        return self._token

    def authenticate(self) -> None:
        """Get a fresh access token (also verifies the credentials).

        Raises:
            BadCredentialsError: Ponto refused the Client ID or Secret.
        """
        body = self._send(
            "POST",
            "oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self._secret),
            token_call=True,
        )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponseError("Ponto's token answer has no access_token")
        expires_in = body.get("expires_in", 1799)
        try:
            lifetime = float(expires_in)
        except (TypeError, ValueError):
            lifetime = 1799.0
        self._token = token
        self._token_expires = time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS)

    # -- JSON:API helpers -------------------------------------------------

    def get_resource(self, path: str) -> dict[str, Any]:
        """GET one JSON:API document and return its ``data`` object."""
        body = self._send("GET", path)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise MalformedResponseError(f"Ponto's answer to {path} has no data object")
        return data

    def pages(
        self, path: str, params: dict[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield a collection page by page, following ``links.next`` verbatim.

        Raises:
            MalformedResponseError: a page is not a JSON:API collection or the links loop.
        """
        url: str = path
        query: dict[str, Any] | None = {"page[limit]": PAGE_LIMIT, **(params or {})}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self._send("GET", url, params=query)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise MalformedResponseError(f"Ponto's answer to {path} is not a list")
            yield data
            links = body.get("links") or {}
            next_url = links.get("next") if isinstance(links, dict) else None
            if not next_url or not data:
                return
            if not isinstance(next_url, str) or next_url in seen:
                raise MalformedResponseError(f"Ponto's paging of {path} loops")
            seen.add(next_url)
            url, query = next_url, None if _has_limit(next_url) else {"page[limit]": PAGE_LIMIT}
        raise MalformedResponseError(f"Ponto's paging of {path} exceeds {MAX_PAGES} pages")

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield every resource of a collection (see :meth:`pages`)."""
        for page in self.pages(path, params):
            yield from page

    # -- resources ----------------------------------------------------------

    def accounts(self) -> list[Account]:
        """Every account the integration may read."""
        return [Account.from_api(r) for r in self.paginate("accounts")]

    def accounts_each(self) -> dict[str, Account | MalformedResponseError]:
        """Every account the integration may read, by id, each parsed on its own.

        An account whose resource is malformed (e.g. an out-of-range consent
        date) maps to its error, so only that account fails.

        Raises:
            MalformedResponseError: the list itself, or a resource's id, is unusable.
        """
        found: dict[str, Account | MalformedResponseError] = {}
        for resource in self.paginate("accounts"):
            rid = resource.get("id") if isinstance(resource, dict) else None
            if not isinstance(rid, str) or not rid:
                raise MalformedResponseError("Ponto sent an account without an id")
            try:
                found[rid] = Account.from_api(resource)
            except MalformedResponseError as exc:
                found[rid] = exc
        return found

    def account(self, account_id: str) -> Account:
        """One account by Ponto id."""
        return Account.from_api(self.get_resource(f"accounts/{account_id}"))

    def transaction_pages(self, account_id: str) -> Iterator[list[Transaction]]:
        """The account's booked transactions, newest first, one page at a time (lazily)."""
        for page in self.pages(f"accounts/{account_id}/transactions"):
            yield [Transaction.from_api(resource) for resource in page]

    def transactions(self, account_id: str) -> Iterator[Transaction]:
        """The account's booked transactions, newest first, lazily."""
        for page in self.transaction_pages(account_id):
            yield from page

    def pending_transactions(self, account_id: str) -> Iterator[Transaction]:
        """The account's pending (not yet booked) transactions."""
        for resource in self.paginate(f"accounts/{account_id}/pending-transactions"):
            yield Transaction.from_api(resource)

    def financial_institution(self, fi_id: str) -> FinancialInstitution:
        """One bank, with its time zone."""
        return FinancialInstitution.from_api(self.get_resource(f"financial-institutions/{fi_id}"))

    def create_synchronization(
        self, account_id: str, customer_ip: str, subtype: str = "accountTransactions"
    ) -> Synchronization:
        """Ask Ponto to refresh an account from the bank now (the user is present).

        Args:
            account_id: the Ponto account.
            customer_ip: the present user's IP address (Ponto requires it).
            subtype: ``accountTransactions`` or ``accountDetails``.
        """
        body = {
            "data": {
                "type": "synchronization",
                "attributes": {
                    "resourceType": "account",
                    "resourceId": account_id,
                    "subtype": subtype,
                    "customerIpAddress": customer_ip,
                },
            }
        }
        answer = self._send("POST", "synchronizations", json_body=body)
        data = answer.get("data") if isinstance(answer, dict) else None
        return Synchronization.from_api(data)

    def synchronization(self, sync_id: str) -> Synchronization:
        """The current state of a synchronization."""
        return Synchronization.from_api(self.get_resource(f"synchronizations/{sync_id}"))

    def wait_for_synchronization(
        self,
        sync_id: str,
        *,
        timeout: float = 120.0,
        interval: float = 1.0,
        on_progress: Callable[[Synchronization], None] | None = None,
    ) -> Synchronization:
        """Poll a synchronization until it finishes or ``timeout`` seconds pass.

        Returns:
            the last state seen (``finished`` is False on timeout).
        """
        deadline = time.monotonic() + timeout
        while True:
            sync = self.synchronization(sync_id)
            if on_progress:
                on_progress(sync)
            if sync.finished or time.monotonic() + interval > deadline:
                return sync
            self.sleep(interval)
