"""Fetching new transactions without losing late ones; shared by sync and the importer.

Ponto lists an account's transactions newest first and offers no date filter,
only an id cursor. The sort key is not documented: by entry date, or (as
OCA's maintainers report) newest *created* first, so that a late delivery with
an old date sits on the first page, while a transaction can also be dated in
the future. Stopping at the first known id (as the OCA Odoo module did) skips
late transactions.

The stop rule of :func:`walk`, correct under both orders: the walk ends after a
page that is *settled* and *reaches the floor*:

* settled: every transaction on it is known (or dated before ``start_date``);
* date floor: its oldest entry date lies more than ``overlap_days`` below the
  newest known entry date, clamped to ``today`` (a known future-dated
  transaction does not count as "newest"); with ``start_date``, the floor is at
  least ``start_date``;
* creation floor (when the page carries ``createdAt``): its oldest ``createdAt``
  lies more than ``overlap_days`` before the newest known ``createdAt`` (or
  before ``start_date``), so that, listed by creation, what lies below was
  created well before anything the last walk saw.

With no known transaction and no ``start_date`` nothing stops it: the first
walk reads the whole list. ``start_date`` thus filters and only stops the walk
once both floors are passed. With typical volumes the first page already
settles, so an idle run costs one page per account. What this rule cannot see
(a transaction delivered more than ``overlap_days`` late, below a settled page)
the *deep* walk (``deep=True``) finds: it reads the whole list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beancount_ponto.convert import local_date

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Transaction


@dataclass
class WalkStats:
    """What one walk read.

    Attributes:
        pages: pages read.
        seen: transactions read.
        known: transactions already known (and not before ``start_date``).
        interrupted: ``should_stop`` ended the walk early.
        complete: the walk read the account's whole list (to its last page).
    """

    pages: int = 0
    seen: int = 0
    known: int = 0
    interrupted: bool = False
    complete: bool = False


def entry_date(tx: Transaction, tz: dt.tzinfo, use_value_date: bool) -> dt.date:
    """The ledger date of ``tx`` (see :mod:`beancount_ponto.convert`)."""
    stamp = tx.value_date if use_value_date and tx.value_date else tx.execution_date
    return local_date(stamp, tz)


@dataclass
class _Floor:
    """The newest known entry date and creation time so far; whether a page gets below them."""

    overlap: dt.timedelta
    today: dt.date | None
    start_date: dt.date | None
    newest_day: dt.date | None = None
    newest_created: dt.datetime | None = None

    def know(self, day: dt.date, created: dt.datetime | None) -> None:
        if self.today is not None:
            day = min(day, self.today)
        self.newest_day = day if self.newest_day is None else max(self.newest_day, day)
        if created is not None:
            self.newest_created = (
                created if self.newest_created is None else max(self.newest_created, created)
            )

    def reached(self, oldest_day: dt.date, oldest_created: dt.datetime | None) -> bool:
        """Whether a settled page with these oldest values ends the walk.

        Compared by differences, never by subtracting the overlap from a served
        value: a date or ``createdAt`` near year 1 must not overflow.
        """
        below_newest = self.newest_day is not None and self.newest_day - oldest_day > self.overlap
        if not below_newest and (self.start_date is None or oldest_day >= self.start_date):
            return False
        if oldest_created is None:
            return True
        start = dt.datetime.combine(self.start_date, dt.time(), dt.UTC) if self.start_date else None
        stamps = [s for s in (self.newest_created, start) if s is not None]
        return not stamps or any(s - oldest_created > self.overlap for s in stamps)


def walk(
    client: PontoClient,
    account_id: str,
    *,
    is_known: Callable[[str], bool],
    date_of: Callable[[Transaction], dt.date],
    overlap_days: int = 7,
    start_date: dt.date | None = None,
    today: dt.date | None = None,
    deep: bool = False,
    stats: WalkStats | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[Transaction, bool]]:
    """Yield ``(transaction, known)`` in list order until the stop rule says stop.

    Transactions dated before ``start_date`` are read but not yielded.

    Args:
        client: the Ponto client.
        account_id: the Ponto account.
        is_known: whether an id is already in the ledger (or was written before).
        date_of: the ledger date of a transaction.
        overlap_days: how far below the newest known date (and creation time)
            to keep reading.
        start_date: ignore transactions dated before it.
        today: the bank's today; known transactions dated later count as today.
        deep: read the whole list, ignoring the stop rule (the deep check).
        stats: filled in with counts as the walk goes.
        should_stop: polled between pages; True ends the walk early and sets
            ``stats.interrupted``: then what was yielded must not be written, since
            older unknown transactions may remain unread.
    """
    stats = stats if stats is not None else WalkStats()
    floor = _Floor(dt.timedelta(days=overlap_days), today, start_date)
    for page in client.transaction_pages(account_id):
        stats.pages += 1
        if not page:
            break
        settled = True
        oldest_day: dt.date | None = None
        created = [tx.created_at for tx in page]
        for tx in page:
            day = date_of(tx)
            oldest_day = day if oldest_day is None else min(oldest_day, day)
            stats.seen += 1
            if start_date and day < start_date:
                continue
            known = is_known(tx.id)
            if known:
                stats.known += 1
                floor.know(day, tx.created_at)
            else:
                settled = False
            yield tx, known
        assert oldest_day is not None
        oldest_created = None if None in created else min(c for c in created if c)
        if not deep and settled and floor.reached(oldest_day, oldest_created):
            return
        if should_stop and should_stop():
            stats.interrupted = True
            return
    stats.complete = True
