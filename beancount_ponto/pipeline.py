"""One pipeline: a linked account, Ponto's transactions, what the ledger holds -> new entries.

Shared by :func:`beancount_ponto.sync.run_sync` (``sync``, its dry run
``extract``, the runner and Fava's Sync now) and the beangulp importer
(:class:`beancount_ponto.importer.PontoImporter`), so every path books the
same entry the same way.

Contract:

* :func:`new_entries` walks one account's transactions (newest first, with the
  stop rule of :mod:`beancount_ponto.walk`), yields each transaction Ponto
  serves once (a second copy on another page is dropped) and, for those the
  caller does not know (or all, for the importer's duplicates), the booked entry.
* :class:`Booker` books the other leg (:func:`beancount_ponto.booking.book`):
  a transfer between own accounts (:mod:`beancount_ponto.transfers`: the
  transit ``transfer_account``, or the ``[own_accounts]`` ledger account),
  else the first matching ``[[rules]]`` table, else a guess learned from the
  ledger's own entries on that bank account (flag ``review_flag``, metadata
  ``ponto_guess``), else the placeholder by sign (credits to
  ``income_account``, debits to ``counter_account``). The learning cache is
  loaded only when a new transaction no rule matches needs it (an idle run
  never reads it), once per run; :meth:`Booker.save` keeps what it read.
  A ledger the cache cannot read leaves the placeholders (logged), never an error.
* :func:`convert_options`, :func:`account_time_zone` and :func:`not_shared`
  are the one options builder, bank-zone lookup and "no longer shared" message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beancount_ponto.booking import book
from beancount_ponto.config import account_zone
from beancount_ponto.convert import ConvertOptions, transaction_to_entry
from beancount_ponto.errors import PontoError
from beancount_ponto.learn import Model
from beancount_ponto.learn_cache import GUESS_META_KEY, cache_path, load_cache, refresh, save_cache
from beancount_ponto.rules import BankFields
from beancount_ponto.timeutil import now_utc
from beancount_ponto.transfers import own_accounts, transfer_leg
from beancount_ponto.walk import WalkStats, entry_date, walk

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from beancount.core import data

    from beancount_ponto.booking import Booking
    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.learn_cache import LearnCache
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Account, Transaction
    from beancount_ponto.state_schema import AccountState

__all__ = [
    "Booker",
    "Fresh",
    "account_time_zone",
    "convert_options",
    "new_entries",
    "not_shared",
]

log = logging.getLogger(__name__)


def not_shared(ponto_id: str) -> str:
    """The error of a linked account Ponto no longer lists."""
    return (
        f"Ponto account {ponto_id} is no longer shared with this "
        "integration; check the integration's accounts in Ponto"
    )


def account_time_zone(
    client: PontoClient,
    config: Config,
    link: AccountLink,
    account: Account,
    remembered: AccountState,
) -> dt.tzinfo:
    """The zone of the account's dates (see :func:`~beancount_ponto.config.account_zone`).

    The bank's zone is asked from Ponto at most once per ``remembered`` record
    (the sync passes the account's state record, so it is kept across runs, also
    when the bank has none; the importer passes one record per bank). A failed
    request fails the account rather than dating its entries in a guessed zone.
    """

    def bank_zone() -> str | None:
        fi_id = account.financial_institution_id
        if remembered.bank_time_zone is None and fi_id:
            bank = client.financial_institution(fi_id)
            remembered.bank_time_zone = bank.time_zone or ""
            remembered.bank_name = bank.name
        return remembered.bank_time_zone or None

    return account_zone(config, link, bank_zone)


def convert_options(
    config: Config, link: AccountLink, account: Account, tz: dt.tzinfo
) -> ConvertOptions:
    """How the transactions of ``account`` (linked by ``link``) become entries."""
    return ConvertOptions(
        account=link.account,
        time_zone=tz,
        counter_account=config.counter_account,
        use_value_date=link.use_value_date,
        flag=config.flag,
        ponto_account_id=account.id,
    )


def bank_fields(entry: data.Transaction) -> BankFields:
    """What the bank says about a converted entry, read as the learning cache reads it."""
    bank = entry.postings[0]
    assert bank.units is not None and bank.units.number is not None
    description = entry.meta.get("description")
    iban = entry.meta.get("counterpart_iban")
    return BankFields(
        linked_account=bank.account,
        amount=bank.units.number,
        currency=bank.units.currency,
        counterpart_name=entry.payee,
        counterpart_iban=iban if isinstance(iban, str) else None,
        communication=entry.narration or None,
        description=description if isinstance(description, str) else None,
    )


def apply_booking(entry: data.Transaction, booking: Booking, default_flag: str) -> data.Transaction:
    """``entry`` with its other leg, flag, payee, narration, tags and note as ``booking`` says."""
    bank, other = entry.postings
    meta = dict(entry.meta)
    if booking.source == "learned" and booking.note:
        meta[GUESS_META_KEY] = booking.note
    return entry._replace(
        meta=meta,
        flag=booking.flag or default_flag,
        payee=booking.payee if booking.payee is not None else entry.payee,
        narration=booking.narration if booking.narration is not None else entry.narration,
        tags=frozenset(entry.tags | booking.tags),
        postings=[bank, other._replace(account=booking.account)],
    )


class Booker:
    """Books the other leg of new entries the same way on every path (see module doc).

    Args:
        config: the configuration (rules, placeholders, review flag, ``learn``).
        ledger: the main ledger file to learn from; None: no learning.
        output: the output file (the learning cache lives beside its state).
    """

    def __init__(self, config: Config, ledger: Path | None, output: Path | None) -> None:
        self.config = config
        self.ledger = ledger if config.learn else None
        self.output = output
        self._cache: LearnCache | None = None
        self._loaded = False
        self._read: list[Path] = []
        self._models: dict[str, Model | None] = {}
        self._own = own_accounts(
            config.own_accounts, config.links.values(), config.transfer_account
        )

    def _model(self, account: str) -> Model | None:
        if account not in self._models:
            cache = self._learned()
            self._models[account] = Model(cache.examples(account)) if cache else None
        return self._models[account]

    def _learned(self) -> LearnCache | None:
        """The learning cache, refreshed from the ledger on first need."""
        if self._loaded or self.ledger is None or self.output is None:
            return self._cache
        self._loaded = True
        config = self.config
        accounts = frozenset(link.account for link in config.links.values())
        # Never learned: the placeholders, and the linked accounts themselves. A
        # transfer between two linked accounts arrives once from each bank; a
        # guessed other leg on the other linked account would count it twice
        # Nor the transit account: transfers are recognised by IBAN, never guessed.
        skip = (
            frozenset({config.counter_account, config.income_account, config.transfer_account})
            | accounts
        )
        try:
            cached = load_cache(cache_path(self.output))
            self._cache, self._read = refresh(cached, self.ledger, accounts, skip_labels=skip)
        except (PontoError, OSError) as exc:
            log.warning("bean-ponto: cannot learn from the ledger (%s); placeholders kept", exc)
        return self._cache

    def book(self, entry: data.Transaction) -> data.Transaction:
        """The converted ``entry`` (placeholder on ``counter_account``) booked."""
        config = self.config
        fields = bank_fields(entry)
        transfer = transfer_leg(self._own, fields)
        model = None
        if (
            transfer is None
            and config.learn
            and not any(rule.matches(fields) for rule in config.rules)
        ):
            model = self._model(fields.linked_account)
        booking = book(
            fields,
            config.rules,
            model,
            counter_account=config.counter_account,
            income_account=config.income_account,
            review_flag=config.review_flag,
            transfer=transfer,
        )
        return apply_booking(entry, booking, config.flag)

    def save(self) -> None:
        """Keep the learning cache when this run had to read ledger files (else nothing)."""
        if self._cache is not None and self._read and self.output is not None:
            try:
                save_cache(cache_path(self.output), self._cache)
            except OSError as exc:
                log.warning("bean-ponto: cannot save the learning cache (%s)", exc)
            self._read = []


@dataclass(frozen=True)
class Fresh:
    """One transaction of the walk.

    Attributes:
        tx: what Ponto sent.
        known: the caller knew its id (in the ledger, written before, ...).
        day: its entry date.
        entry: the booked entry; None when ``known`` (unless ``book_known``).
    """

    tx: Transaction
    known: bool
    day: dt.date
    entry: data.Transaction | None


def new_entries(
    client: PontoClient,
    link: AccountLink,
    options: ConvertOptions,
    booker: Booker,
    *,
    is_known: Callable[[str], bool],
    overlap_days: int,
    deep: bool = False,
    stats: WalkStats | None = None,
    should_stop: Callable[[], bool] | None = None,
    book_known: bool = False,
) -> Iterator[Fresh]:
    """Walk one linked account and book what is new (see module doc).

    Args:
        client: the Ponto client.
        link: the account's link.
        options: from :func:`convert_options`.
        booker: books the other leg.
        is_known: whether an id needs no entry (the walk's stop rule uses it too).
        overlap_days: how far below known transactions the walk keeps looking.
        deep: walk the whole list (a deep check).
        stats: filled with the walk's pages and counts.
        should_stop: polled between pages; true stops the walk (``stats.interrupted``).
        book_known: book known transactions too (the importer shows them as duplicates).

    Yields:
        Each transaction once, newest first, with its booked entry when new.

    Raises:
        PontoError: Ponto failed, or sent a transaction that cannot be converted.
    """
    tz = options.time_zone

    def date_of(tx: Transaction) -> dt.date:
        return entry_date(tx, tz, link.use_value_date)

    seen: set[str] = set()
    for tx, known in walk(
        client,
        options.ponto_account_id or link.ponto_id,
        is_known=is_known,
        date_of=date_of,
        overlap_days=overlap_days,
        start_date=link.start_date,
        today=now_utc().astimezone(tz).date(),
        deep=deep,
        stats=stats,
        should_stop=should_stop,
    ):
        if tx.id in seen:  # Ponto served it twice (e.g. on two pages)
            continue
        seen.add(tx.id)
        book_it = book_known or not known
        entry = booker.book(transaction_to_entry(tx, options)) if book_it else None
        yield Fresh(tx, known, date_of(tx), entry)
