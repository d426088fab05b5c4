"""The mutable world of the Ponto simulator: accounts, tokens, syncs, faults, log.

Contract:

* Every public method takes :attr:`SimState.lock` itself (a re-entrant lock), so
  callers from the HTTP threads and from the test thread never race.
* Clock: with a fixed ``today`` the simulated now starts at local noon of that
  day and advances with real time; without it, it is the real UTC time;
  :meth:`SimState.shift_clock` moves it (and the consents and refresh times
  with it, never the data's dates). Consent expiry is judged against this
  clock, token expiry against real monotonic time.
* Consents behave as :mod:`.consent` says (served after the expected expiry
  unless ``refuse_after_expiry``).
* Balance invariant: an account's balance is the exact sum of its booked
  transactions in its currency, kept true by every insertion (added,
  queued-on-sync, grown).
* Unknown account ids raise :class:`KeyError`; bad amounts raise ``ValueError``/
  ``TypeError`` (never float money).
* Switches (constructor and :meth:`SimState.set_options`): ``list_order``
  (``"date"``: newest entry date first; ``"created"``: newest ``createdAt``
  first, as real Ponto is reported to list) and ``legacy_links`` (old-style
  ``links.next`` = ``?after=<id>`` without a limit).
* Data sets (``dataset``): ``"default"`` (the tests' data, hostile texts
  included: :mod:`.data`) or ``"household"`` (a Belgian household's year for
  the demo: :mod:`.household`, which ignores ``sizes``; what grows there is a
  household's card payment on the checking account).
* ``createdAt`` of a transaction booked at run time is the simulated now (never
  in the future, also for a future-dated one), and at least its day's 01:00.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import threading
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

from beancount_ponto.simulator import household
from beancount_ponto.simulator.consent import AUTH_INVALID, ConsentSwitches, consent_error
from beancount_ponto.simulator.data import build_accounts, make_txn, new_id
from beancount_ponto.simulator.faults import Fault, FaultQueue
from beancount_ponto.simulator.jsonutil import (
    DATE_CONVENTIONS,
    DateConvention,
    dumps,
    iso,
    local_midnight,
    truncate_ms,
)
from beancount_ponto.simulator.records import (
    LIST_ORDERS,
    AccountRec,
    ListOrder,
    SyncRec,
    Txn,
)

#: The simulator's data sets: the tests' (hostile texts included) and the demo's household.
Dataset = Literal["default", "household"]
DATASETS: tuple[Dataset, ...] = ("default", "household")
TXN_SUBTYPES = ("accountTransactions", "accountTransactionsWithUnsettled")
SYNC_SUBTYPES = ("accountDetails", *TXN_SUBTYPES)
__all__ = ["AUTH_INVALID", "SYNC_SUBTYPES", "TXN_SUBTYPES", "SimState", "to_amount"]


def to_amount(value: object) -> Decimal:
    """Return ``value`` (Decimal, int or numeric str) as a finite Decimal.

    Raises:
        TypeError: for floats, bools and other types.
        ValueError: for text that is not a finite number.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"amount must be a Decimal, int or str, not {type(value).__name__}")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"amount is not a number: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"amount is not finite: {value!r}")
    return amount


class SimState:
    """All simulator data behind one lock."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        seed: int,
        sizes: list[int],
        today: dt.date | None,
        token_ttl: int,
        time_zone: str,
        list_order: ListOrder = "date",
        legacy_links: bool = False,
        date_convention: DateConvention = "local_midnight",
        serve_time_zone: bool = True,
        refuse_after_expiry: bool = False,
        unique_ids: bool = False,
        dataset: Dataset = "default",
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}")
        self.dataset: Dataset = dataset
        if any(size < 0 for size in sizes):
            raise ValueError("transaction counts must not be negative")
        if date_convention not in DATE_CONVENTIONS:
            raise ValueError(f"date_convention must be one of {', '.join(DATE_CONVENTIONS)}")
        self.date_convention: DateConvention = date_convention
        self.serve_time_zone = serve_time_zone
        self.lock = threading.RLock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.time_zone = time_zone
        self.zone = ZoneInfo(time_zone)
        self._fixed_today = today
        self._t0 = time.monotonic()
        self._shift = dt.timedelta(0)
        self.consent = ConsentSwitches(refuse_after_expiry=refuse_after_expiry)
        #: ``(account id, subtype)`` of each synchronization created over the API.
        self.created_syncs: list[tuple[str, str]] = []
        self._base_now = (
            local_midnight(today, self.zone) + dt.timedelta(hours=12) if today else None
        )
        self.fi_id = new_id(random.Random(f"ponto-sim:{seed}:fi"))
        self.rng = random.Random(f"ponto-sim:{seed}:runtime")
        generated_at = self._base_now or self.now()  # fixed today: exactly reproducible
        if dataset == "household":
            pairs = household.build_accounts(seed, self.today(), self.zone, generated_at)
        else:
            pairs = build_accounts(seed, sizes, self.today(), self.zone, generated_at)
        self.accounts: dict[str, AccountRec] = {acc.id: acc for acc, _ in pairs}
        self._rngs: dict[str, random.Random] = {acc.id: rng for acc, rng in pairs}
        if unique_ids:  # what happens from now on differs from any earlier run's
            self.rng = random.Random()
            self._rngs = {acc.id: random.Random() for acc, _ in pairs}
        self._profiles = {
            acc.id: (
                "foreign"
                if acc.currency != "EUR"
                else "savings"
                if acc.subtype == "savings"
                else "checking"
            )
            for acc, _ in pairs
        }
        self._last_created = self.now()
        self.tokens: dict[str, float] = {}
        self.syncs: dict[str, SyncRec] = {a.latest_sync.id: a.latest_sync for a, _ in pairs}
        self.faults = FaultQueue()
        self._log: list[tuple[str, str, int]] = []
        self.list_order: ListOrder = "date"
        self.legacy_links = legacy_links
        self.set_options(list_order=list_order)

    def set_options(
        self, *, list_order: ListOrder | None = None, legacy_links: bool | None = None
    ) -> None:
        """Switch how lists are sorted and how ``links.next`` looks (None = unchanged).

        Raises:
            ValueError: an unknown list order.
        """
        if list_order is not None and list_order not in LIST_ORDERS:
            raise ValueError(f"list_order must be one of {', '.join(LIST_ORDERS)}")
        with self.lock:
            if legacy_links is not None:
                self.legacy_links = legacy_links
            if list_order is not None and list_order != self.list_order:
                self.list_order = list_order
                for account in self.accounts.values():
                    account.txns = account.txns.reordered(list_order)
                    account.pending = account.pending.reordered(list_order)

    # -- clock ------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The simulated current time (aware UTC, millisecond precision)."""
        if self._base_now is None:
            return truncate_ms(dt.datetime.now(dt.UTC) + self._shift)
        elapsed = dt.timedelta(seconds=time.monotonic() - self._t0)
        return truncate_ms(self._base_now + elapsed + self._shift)

    def shift_clock(self, delta: dt.timedelta) -> None:
        """Move the clock by ``delta``, with consents and refresh times (not booking dates)."""
        with self.lock:
            self._shift += delta
            for account in self.accounts.values():
                account.authorized_at += delta
                account.expires_at += delta
                account.synchronized_at += delta
            for sync in self.syncs.values():
                sync.created_at += delta
                sync.updated_at += delta

    def today(self) -> dt.date:
        """The simulated booking date of new transactions."""
        return self._fixed_today or dt.datetime.now(self.zone).date()

    @property
    def served_time_zone(self) -> str | None:
        """The bank's ``timeZone`` attribute as served (None: left out, as real samples do)."""
        return self.time_zone if self.serve_time_zone else None

    # -- tokens -----------------------------------------------------------
    def issue_token(self) -> str:
        """Create a new access token valid for ``token_ttl`` seconds."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            if len(self.tokens) >= 1000:
                self.tokens = {t: exp for t, exp in self.tokens.items() if exp > now}
            self.tokens[token] = now + self.token_ttl
        return token

    def token_valid(self, token: str) -> bool:
        """True if ``token`` was issued, is not expired and was not revoked."""
        with self.lock:
            expiry = self.tokens.get(token)
            return expiry is not None and time.monotonic() < expiry

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far."""
        with self.lock:
            self.tokens.clear()

    # -- accounts and transactions -----------------------------------------
    def account(self, account_id: str) -> AccountRec:
        """The account with this id.

        Raises:
            KeyError: if there is no such account.
        """
        with self.lock:
            try:
                return self.accounts[account_id]
            except KeyError:
                raise KeyError(f"unknown account id {account_id!r}") from None

    def consent_expired(self, account: AccountRec) -> bool:
        """True if the account's expected consent expiry lies in the (simulated) past."""
        return account.expires_at <= self.now()

    def reads_refused(self, account: AccountRec) -> bool:
        """True if transaction reads answer 403 ``authorizationInvalid`` (see :mod:`.consent`)."""
        with self.lock:
            return self.consent.reads_refused(account, self.now())

    def set_synchronized_at(self, account_id: str, when: dt.datetime) -> None:
        """Set when Ponto last refreshed the account (``meta.synchronizedAt``; naive = UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        with self.lock:
            self.account(account_id).synchronized_at = truncate_ms(when.astimezone(dt.UTC))

    def _next_created(self, day: dt.date) -> dt.datetime:
        created = max(self.now(), self._last_created + dt.timedelta(milliseconds=1))
        if day <= self.today():
            created = max(created, local_midnight(day, self.zone) + dt.timedelta(hours=1))
        self._last_created = created
        return created

    def _insert(self, account: AccountRec, txn: Txn) -> None:
        account.txns.add(txn)
        if txn.currency == account.currency:  # a foreign-currency item leaves it alone
            account.balance += txn.amount
        account.balance_changed_at = self.now()

    def add_transaction(
        self,
        account_id: str,
        amount: object,
        *,
        execution_date: dt.date | None = None,
        value_date: dt.date | None = None,
        description: str = "Wire transfer",
        attributes: dict[str, Any] | None = None,
        currency: str | None = None,
        txn_id: str | None = None,
    ) -> Txn:
        """Book a transaction now (visible at once) and update the balance.

        ``currency`` defaults to the account's; another one leaves the balance alone.
        ``txn_id`` is the id to give it (default a new UUID).

        Raises:
            KeyError: unknown account.
            TypeError, ValueError: bad amount, or ``txn_id`` already taken.
        """
        value = to_amount(amount)
        if isinstance(execution_date, dt.datetime):
            execution_date = execution_date.date()
        if isinstance(value_date, dt.datetime):
            value_date = value_date.date()
        with self.lock:
            account = self.account(account_id)
            day = execution_date or self.today()
            created = self._next_created(day)
            extra: dict[str, Any] = {"description": description}
            extra.update(attributes or {})
            dumps(extra)  # TypeError now (e.g. a float) rather than at serving time
            txn = Txn(
                id=txn_id or new_id(self.rng),
                amount=value,
                currency=currency or account.currency,
                execution_date=day,
                value_date=value_date or day,
                created_at=created,
                updated_at=created,
                extra=extra,
            )
            self._insert(account, txn)
            return txn

    def generate_for(self, account_id: str) -> Txn:
        """Book one generated transaction dated today on ``account_id``."""
        with self.lock:
            account = self.account(account_id)
            day = self.today()
            rng, profile = self._rngs[account_id], self._profiles[account_id]
            created = self._next_created(day)
            if self.dataset == "household":
                txn = household.grown_txn(rng, account.currency, day, created, profile=profile)
            else:
                txn = make_txn(rng, profile, account.currency, day, created)
            txn.updated_at = txn.created_at
            self._insert(account, txn)
            return txn

    def grow_once(self) -> Txn:
        """Book one generated transaction on a (seeded) random account (household: checking)."""
        with self.lock:
            if self.dataset == "household":
                return self.generate_for(next(iter(self.accounts)))
            return self.generate_for(self.rng.choice(list(self.accounts)))

    def queue(self, account_id: str, count: int) -> int:
        """Queue ``count`` generated transactions for the next successful sync.

        Returns:
            the number now queued for that account.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        with self.lock:
            account = self.account(account_id)
            account.queued += count
            return account.queued

    def set_consent_expiry(self, account_id: str, when: dt.datetime) -> None:
        """Move the consent expiry (naive = UTC); authorizedAt follows at -180 days."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        with self.lock:
            account = self.account(account_id)
            account.expires_at = truncate_ms(when.astimezone(dt.UTC))
            account.authorized_at = account.expires_at - dt.timedelta(days=180)

    def expire_consent(self, account_id: str) -> None:
        """Put the consent expiry one day in the simulated past."""
        self.set_consent_expiry(account_id, self.now() - dt.timedelta(days=1))

    # -- synchronizations ---------------------------------------------------
    def create_sync(self, account_id: str, subtype: str, customer_ip: str) -> SyncRec:
        """Create a pending synchronization (becomes the account's latest).

        Raises:
            KeyError: unknown account.
        """
        with self.lock:
            account = self.account(account_id)
            now = self.now()
            sync = SyncRec(
                id=new_id(self.rng),
                account_id=account_id,
                subtype=subtype,
                customer_ip=customer_ip,
                created_at=now,
                updated_at=now,
            )
            self.syncs[sync.id] = sync
            self.created_syncs.append((account_id, subtype))
            account.latest_sync = sync
            return sync

    def advance_sync(self, sync: SyncRec) -> None:
        """Move ``sync`` one step: pending -> running -> success | error."""
        with self.lock:
            if sync.status == "pending":
                sync.status = "running"
            elif sync.status == "running":
                account = self.accounts[sync.account_id]
                if self.consent.syncs_fail(account, self.now()):
                    sync.status = "error"
                    sync.errors = [consent_error()]
                else:
                    sync.status = "success"
                    if sync.subtype in TXN_SUBTYPES:
                        added = [self.generate_for(account.id) for _ in range(account.queued)]
                        account.queued = 0
                        sync.updated = added[::-1]
                    account.synchronized_at = self.now()
            else:
                return
            sync.updated_at = self.now()

    # -- request log --------------------------------------------------------
    def log_request(self, method: str, path: str, status: int) -> None:
        """Record one API request (status 0 = connection dropped)."""
        with self.lock:
            self._log.append((method, path, status))

    def request_log(self) -> list[tuple[str, str, int]]:
        """A copy of the request log."""
        with self.lock:
            return list(self._log)

    def reset_log(self) -> None:
        """Forget the logged requests."""
        with self.lock:
            self._log.clear()

    def arm(self, fault: Fault) -> None:
        """Arm a fault (see :class:`~.faults.FaultQueue`)."""
        with self.lock:
            self.faults.arm(fault)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready overview for ``GET /_sim/state``."""
        with self.lock:
            return {
                "now": iso(self.now()),
                "today": self.today().isoformat(),
                "listOrder": self.list_order,
                "legacyLinks": self.legacy_links,
                "dataset": self.dataset,
                "accounts": [
                    {
                        "id": a.id,
                        "reference": a.reference,
                        "currency": a.currency,
                        "subtype": a.subtype,
                        "transactions": len(a.txns),
                        "pendingTransactions": len(a.pending),
                        "queued": a.queued,
                        "balance": a.balance,
                        "consentExpiresAt": iso(a.expires_at),
                        "consentExpired": self.consent_expired(a),
                        "consentRevoked": a.id in self.consent.revoked,
                        "synchronizedAt": iso(a.synchronized_at),
                    }
                    for a in self.accounts.values()
                ],
                "pendingFaults": [f.describe() for f in self.faults.pending()],
                "synchronizations": len(self.syncs),
                "refuseAfterExpiry": self.consent.refuse_after_expiry,
                "synchronizationsCreated": [
                    {"account": account, "subtype": subtype}
                    for account, subtype in self.created_syncs
                ],
                "validTokens": sum(1 for exp in self.tokens.values() if exp > time.monotonic()),
                "requests": len(self._log),
            }
