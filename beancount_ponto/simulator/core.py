"""The :class:`Simulator`: a local Ponto API server for tests and demos.

Contract: construct (data is generated at once, deterministically for ``seed``
and ``today``), :meth:`Simulator.start` (binds ``host:port``, port 0 = any free
port), use :attr:`Simulator.url` with any HTTP client, :meth:`Simulator.stop`.
Also a context manager. All methods are thread-safe. Faults affect API requests
only, in arrival order, optionally restricted to paths (query included)
containing ``path_contains``. Unknown account ids raise :class:`KeyError`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from beancount_ponto.simulator import pending, reauth, render
from beancount_ponto.simulator.api import Api
from beancount_ponto.simulator.faults import Fault
from beancount_ponto.simulator.server import SimHTTPServer
from beancount_ponto.simulator.state import SimState

if TYPE_CHECKING:
    import datetime as dt
    from decimal import Decimal
    from types import TracebackType

    from beancount_ponto.simulator.jsonutil import DateConvention
    from beancount_ponto.simulator.records import ListOrder
    from beancount_ponto.simulator.state import Dataset


class Simulator:
    """A real HTTP server speaking the Ponto API (custom integration flavour).

    Args:
        client_id: the only accepted client id.
        client_secret: the only accepted client secret.
        seed: seed of all generated data (same seed -> same ids and texts).
        transactions_per_account: booked transactions of each of the 3 accounts.
        today: the newest booking date; None = today in ``time_zone``.
        host: interface to bind.
        port: port to bind; 0 picks a free one.
        token_ttl: access token lifetime in seconds (``expires_in``).
        time_zone: the bank's time zone (dates are its local midnight in UTC).
        account_sizes: one entry per account (overrides
            ``transactions_per_account`` and the number of accounts; entries
            after the third add EUR checking accounts).
        list_order: ``"date"`` lists newest entry date first; ``"created"`` lists
            newest ``createdAt`` first, as OCA's maintainers describe real Ponto.
        legacy_links: ``links.next`` is old-style ``?after=<id>``, without a limit.
        date_convention: how booking dates are served: ``"local_midnight"``
            (the bank's midnight in UTC, ``2024-03-01T23:00:00.000Z`` for
            March 2 in Brussels) or ``"utc_midnight"`` (``2024-03-02T00:00:00.000Z``,
            as in every replayed real sample).
        serve_time_zone: serve the bank's ``timeZone``; False leaves it out,
            as every real sample does.
        refuse_after_expiry: answer 403 ``authorizationInvalid`` to transaction
            reads (and fail synchronizations) once a consent's expected expiry
            has passed. Real Ponto keeps serving data (the default).
        unique_ids: the accounts and their history still follow ``seed``,
            but everything booked or created while running (added, grown and
            queued transactions, synchronizations) draws fresh random ids and
            texts, so a restarted simulator never reuses the ids of an earlier
            run (as real Ponto never does). False = all reproducible.
        dataset: ``"default"``, the tests' data (hostile texts on the first
            account), or ``"household"``, a Belgian household's year for the
            demo (salary, rent, groceries, utilities, savings transfers
            between its own accounts, pending card payments; see
            :mod:`.household`; ``transactions_per_account`` and
            ``account_sizes`` are ignored).
    """

    def __init__(  # noqa: PLR0917 - the documented signature allows positional use
        self,
        client_id: str = "demo-client-id",
        client_secret: str = "demo-client-secret",
        seed: int = 42,
        transactions_per_account: int = 40,
        today: dt.date | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl: int = 1799,
        time_zone: str = "Europe/Brussels",
        account_sizes: list[int] | None = None,
        *,
        list_order: ListOrder = "date",
        legacy_links: bool = False,
        date_convention: DateConvention = "local_midnight",
        serve_time_zone: bool = True,
        refuse_after_expiry: bool = False,
        unique_ids: bool = False,
        dataset: Dataset = "default",
    ) -> None:
        sizes = list(account_sizes) if account_sizes is not None else [transactions_per_account] * 3
        self._state = SimState(
            client_id=client_id,
            client_secret=client_secret,
            seed=seed,
            sizes=sizes,
            today=today,
            token_ttl=token_ttl,
            time_zone=time_zone,
            list_order=list_order,
            legacy_links=legacy_links,
            date_convention=date_convention,
            serve_time_zone=serve_time_zone,
            refuse_after_expiry=refuse_after_expiry,
            unique_ids=unique_ids,
            dataset=dataset,
        )
        self._host = host
        self._port = port
        self._stop = threading.Event()
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> Simulator:
        """Bind and serve in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        self._stop.clear()
        server = SimHTTPServer((self._host, self._port), Api(self._state, self._stop))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ponto-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections (idempotent)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stop.set()
        server.shutdown()
        server.server_close()
        server.close_all()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).

        Raises:
            RuntimeError: if the simulator is not started.
        """
        if self._server is None:
            raise RuntimeError("the simulator is not started; call start()")
        return self._server.base_url

    @property
    def client_id(self) -> str:
        """The accepted client id."""
        return self._state.client_id

    @property
    def client_secret(self) -> str:
        """The accepted client secret."""
        return self._state.client_secret

    @property
    def state(self) -> SimState:
        """The underlying state (for advanced tests)."""
        return self._state

    @property
    def financial_institution_id(self) -> str:
        """Id of the one financial institution."""
        return self._state.fi_id

    # -- data -------------------------------------------------------------------
    @property
    def account_ids(self) -> list[str]:
        """Account ids in the fixed order (checking EUR, savings EUR, USD, ...)."""
        with self._state.lock:
            return list(self._state.accounts)

    def add_transaction(
        self,
        account_id: str,
        amount: Decimal | str | int,
        *,
        execution_date: dt.date | None = None,
        value_date: dt.date | None = None,
        counterpart_name: str | None = "Demo Counterpart",
        remittance_information: str | None = "Simulated transaction",
        description: str = "Wire transfer",
        currency: str | None = None,
        txn_id: str | None = None,
        **extra_attributes: Any,
    ) -> str:
        """Book a transaction (visible at once) and update the balance.

        Args:
            account_id: the account.
            amount: signed amount (never a float).
            execution_date: booking date, default today.
            value_date: default the execution date.
            counterpart_name: ``counterpartName``.
            remittance_information: ``remittanceInformation``.
            description: ``description``.
            currency: default the account's; another one leaves the balance alone.
            txn_id: the transaction's id; default a new UUID (any text: Ponto's
                ids are opaque strings).
            **extra_attributes: more Ponto attributes by camelCase name
                (e.g. ``endToEndId="X"``, ``remittanceInformationType="structured"``);
                ``executionDate``/``valueDate``/``createdAt`` given here are served
                verbatim (e.g. ``executionDate="9999-12-31T23:00:00.000Z"``).

        Returns:
            the new transaction id.

        Raises:
            KeyError: unknown account.
            TypeError, ValueError: bad amount or non-JSON attribute.
        """
        attributes = {
            "counterpartName": counterpart_name,
            "remittanceInformation": remittance_information,
            **extra_attributes,
        }
        txn = self._state.add_transaction(
            account_id,
            amount,
            execution_date=execution_date,
            value_date=value_date,
            description=description,
            attributes=attributes,
            currency=currency,
            txn_id=txn_id,
        )
        return txn.id

    def _base(self) -> str:
        return self.url if self._server is not None else f"http://{self._host}:{self._port}"

    def transactions(self, account_id: str) -> list[dict[str, Any]]:
        """Booked transactions as served (JSON:API resources, newest first).

        Money values are :class:`~decimal.Decimal`.
        """
        with self._state.lock:
            account = self._state.account(account_id)
            base, zone, convention = self._base(), self._state.zone, self._state.date_convention
            return [
                render.transaction(t, account.id, base, zone, convention=convention)
                for t in account.txns.newest_first()
            ]

    def pending_transactions(self, account_id: str) -> list[dict[str, Any]]:
        """Pending transactions as served, newest first."""
        with self._state.lock:
            account = self._state.account(account_id)
            base, zone, convention = self._base(), self._state.zone, self._state.date_convention
            return [
                render.transaction(
                    t, account.id, base, zone, "pendingTransaction", convention=convention
                )
                for t in account.pending.newest_first()
            ]

    def add_pending(
        self,
        account_id: str,
        amount: Decimal | str | int,
        *,
        execution_date: dt.date | None = None,
        counterpart_name: str | None = "Demo Shop",
        remittance_information: str | None = "Card payment",
        currency: str | None = None,
        txn_id: str | None = None,
        **extra_attributes: Any,
    ) -> str:
        """Add a pending transaction (see :mod:`.pending`); returns its id.

        Args:
            account_id: the account.
            amount: signed amount (never a float).
            execution_date: its date, default today.
            counterpart_name: ``counterpartName``.
            remittance_information: ``remittanceInformation``.
            currency: default the account's.
            txn_id: its id, default a new UUID.
            **extra_attributes: more Ponto attributes by camelCase name.

        Raises:
            KeyError: unknown account.
            TypeError, ValueError: bad amount or non-JSON attribute.
        """
        attributes = {
            "counterpartName": counterpart_name,
            "remittanceInformation": remittance_information,
            **extra_attributes,
        }
        return pending.add_pending(
            self._state,
            account_id,
            amount,
            execution_date=execution_date,
            attributes=attributes,
            currency=currency,
            txn_id=txn_id,
        ).id

    def book_pending(
        self,
        account_id: str,
        pending_id: str,
        *,
        execution_date: dt.date | None = None,
        amount: Decimal | str | int | None = None,
    ) -> str:
        """Book a pending transaction as Ponto does (see :mod:`.pending`).

        It leaves the pending list and a booked transaction with a new id
        appears (default: on the same day, for the same amount).

        Returns:
            the booked transaction's id.

        Raises:
            KeyError: unknown account or pending id.
        """
        return pending.book_pending(
            self._state, account_id, pending_id, execution_date=execution_date, amount=amount
        ).id

    def account(self, account_id: str) -> dict[str, Any]:
        """The account resource as served."""
        with self._state.lock:
            acc = self._state.account(account_id)
            state = self._state
            return render.account(acc, self._base(), state.fi_id, state.zone, state.date_convention)

    def balance(self, account_id: str) -> Decimal:
        """The current balance (= sum of the account's transactions)."""
        with self._state.lock:
            return self._state.account(account_id).balance

    def grow_once(self) -> str:
        """Book one generated transaction on a (seeded) random account; returns its id."""
        return self._state.grow_once().id

    def queue_on_sync(self, account_id: str, count: int) -> None:
        """Queue ``count`` generated transactions (dated today) for ``account_id``.

        They are booked when the next ``accountTransactions`` or
        ``accountTransactionsWithUnsettled`` synchronization of that account succeeds.
        """
        self._state.queue(account_id, count)

    def set_options(
        self, *, list_order: ListOrder | None = None, legacy_links: bool | None = None
    ) -> None:
        """Switch the list order or the style of ``links.next`` (None = unchanged)."""
        self._state.set_options(list_order=list_order, legacy_links=legacy_links)

    # -- faults -------------------------------------------------------------------
    def fail_next(self, n: int, status: int = 503, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests answer ``status`` with a JSON:API error."""
        self._state.arm(Fault("fail", n, status=status, path_contains=path_contains))

    def rate_limit_next(
        self, n: int, retry_after: int = 1, path_contains: str | None = None
    ) -> None:
        """The next ``n`` matching requests answer 429 with ``Retry-After``."""
        self._state.arm(
            Fault("rate_limit", n, status=429, retry_after=retry_after, path_contains=path_contains)
        )

    def drop_next(self, n: int, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests get their connection closed unanswered."""
        self._state.arm(Fault("drop", n, path_contains=path_contains))

    def garbage_next(self, n: int, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests answer 200 with a non-JSON body."""
        self._state.arm(Fault("garbage", n, path_contains=path_contains))

    def slow_next(self, n: int, seconds: float, path_contains: str | None = None) -> None:
        """The next ``n`` matching requests wait ``seconds`` before being answered."""
        self._state.arm(Fault("slow", n, seconds=seconds, path_contains=path_contains))

    def repeat_next(self, n: int, path_contains: str | None = None) -> None:
        """The next ``n`` matching list pages start one item early (an item served twice)."""
        self._state.arm(Fault("repeat", n, path_contains=path_contains))

    def bank_error_next(self, n: int, path_contains: str | None = None, status: int = 500) -> None:
        """The next ``n`` matching requests answer ``status`` ``invalidCredentials`` from the bank.

        The error carries ``meta.financialInstitutionResponse`` (the bank refused
        Ponto; nothing to do with the client's credentials).
        """
        self._state.arm(Fault("bank_error", n, status=status, path_contains=path_contains))

    def clear_faults(self) -> None:
        """Disarm every pending fault."""
        with self._state.lock:
            self._state.faults.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid (401 invalidAccessToken)."""
        self._state.expire_tokens()

    def serve_account_attribute(self, account_id: str, name: str, value: Any) -> None:
        """Serve the account's attribute ``name`` as ``value`` verbatim from now on.

        For malformed answers, e.g. ``authorizationExpirationExpectedAt`` =
        ``"0001-01-01T00:30:00.000+01:00"``.
        """
        with self._state.lock:
            self._state.account(account_id).served[name] = value

    def expire_consent(self, account_id: str) -> None:
        """Move the expected consent expiry one day into the past.

        As real Ponto does, the data is still served and synchronizations still
        succeed; with ``refuse_after_expiry`` transaction reads answer 403
        ``authorizationInvalid`` and synchronizations end in ``error``.
        """
        self._state.expire_consent(account_id)

    def revoke_consent(self, account_id: str, *, refuse_reads: bool = False) -> None:
        """Revoke the account's consent at the bank, as Ponto reports it.

        ``meta.latestSynchronization`` becomes an ``error`` with code
        ``authorizationInvalid`` (as after Ponto's own background refresh), and so
        does every later synchronization. The stored data is still served, unless
        ``refuse_reads``: then transaction reads answer 403 ``authorizationInvalid``.
        """
        reauth.revoke(self._state, account_id, refuse_reads=refuse_reads)

    def reauthorize(self, account_id: str) -> None:
        """Renew the consent for 180 days; Ponto refreshes the account successfully."""
        reauth.reauthorize(self._state, account_id)

    def set_refuse_after_expiry(self, enabled: bool) -> None:
        """Switch ``refuse_after_expiry`` (see the constructor)."""
        with self._state.lock:
            self._state.consent.refuse_after_expiry = enabled

    def set_synchronized_at(self, account_id: str, when: dt.datetime) -> None:
        """Set when Ponto last refreshed the account from the bank (naive = UTC)."""
        self._state.set_synchronized_at(account_id, when)

    def shift_clock(self, delta: dt.timedelta) -> None:
        """Move the simulated clock, consent dates and refresh times by ``delta``.

        Booking dates stay: tests use it to live at the real time with data dated
        to a fixed ``today``.
        """
        self._state.shift_clock(delta)

    @property
    def synchronizations_created(self) -> list[tuple[str, str]]:
        """``(account id, subtype)`` of each synchronization created over the API, in order."""
        with self._state.lock:
            return list(self._state.created_syncs)

    def set_consent_expiry(self, account_id: str, when: dt.datetime) -> None:
        """Set ``authorizationExpirationExpectedAt`` (naive = UTC)."""
        self._state.set_consent_expiry(account_id, when)

    # -- request log ----------------------------------------------------------------
    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """``(method, path with query, status)`` of each API request, in completion order.

        The path is percent-decoded (``page[after]`` reads literally); status 0
        means the connection was dropped.
        """
        return self._state.request_log()

    def reset_log(self) -> None:
        """Forget the logged requests."""
        self._state.reset_log()
