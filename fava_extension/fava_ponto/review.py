"""The Fava page's "To review" list, from the entries Fava already loaded.

Contract:

* An entry waits for review on the same terms as in ``bean-ponto status``
  (:mod:`beancount_ponto.review`): a Transaction with ``ponto_id`` metadata
  that is a learned guess not yet reviewed (flag ``review_flag`` and the
  ``ponto_guess`` metadata) or still posts to a placeholder
  (``counter_account`` / ``income_account``).
* :func:`to_review` walks the loaded entries once (no file is read, no
  Beancount load) and returns the total count and at most ``limit`` items,
  newest first. Each item carries Fava's entry hash (Beancount's
  ``hash_entry``, as Fava computes it), so the page links to Fava's entry
  context (``journal/#context-<hash>``).
* Amounts stay Decimal; text stays plain (the template escapes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from beancount.core import compare, data

from beancount_ponto.learn_cache import GUESS_META_KEY
from beancount_ponto.review import waits_for_review

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable
    from decimal import Decimal

__all__ = ["REVIEW_SHOWN", "ReviewItem", "ReviewList", "to_review"]

#: the most entries the page lists (the count is always the full one)
REVIEW_SHOWN = 50


@dataclass(frozen=True)
class ReviewItem:
    """One entry waiting for review, as the page lists it."""

    date: dt.date
    payee: str
    narration: str
    number: Decimal | None
    currency: str
    #: the other leg's account(s): every posting but the first (the bank's)
    other: tuple[str, ...]
    #: the learned guess's note (``ponto_guess``), or None for a placeholder
    guess: str | None
    #: Fava's hash of the entry (its context page)
    entry_hash: str


@dataclass(frozen=True)
class ReviewList:
    """The entries waiting for review: the full count and the newest ``items``."""

    count: int = 0
    items: tuple[ReviewItem, ...] = ()
    #: the flag of a learned guess not yet reviewed
    review_flag: str = "!"

    @property
    def more(self) -> int:
        """How many wait beyond the listed items."""
        return self.count - len(self.items)


def _waits(txn: data.Transaction, placeholders: frozenset[str], review_flag: str) -> bool:
    accounts = (p.account for p in txn.postings)
    return waits_for_review(
        txn.flag, txn.meta or {}, accounts, placeholders, review_flag=review_flag
    )


def _item(txn: data.Transaction) -> ReviewItem:
    first = txn.postings[0] if txn.postings else None
    units = first.units if first is not None else None
    guess = (txn.meta or {}).get(GUESS_META_KEY)
    return ReviewItem(
        date=txn.date,
        payee=txn.payee or "",
        narration=txn.narration or "",
        number=units.number if units is not None else None,
        currency=units.currency if units is not None else "",
        other=tuple(p.account for p in txn.postings[1:]),
        guess=str(guess) if guess is not None else None,
        entry_hash=compare.hash_entry(txn),
    )


def to_review(
    entries: Iterable[object],
    placeholders: frozenset[str],
    *,
    review_flag: str = "!",
    limit: int = REVIEW_SHOWN,
) -> ReviewList:
    """The loaded entries that wait for review (see the module contract).

    Args:
        entries: the loaded directives, sorted by date (as Fava holds them).
        placeholders: the placeholder accounts (``counter_account``, ``income_account``).
        review_flag: the flag of a learned guess not yet reviewed.
        limit: the most items returned (newest first).

    Returns:
        the full count and at most ``limit`` items, newest first.
    """
    waiting = [
        e
        for e in entries
        if isinstance(e, data.Transaction) and _waits(e, placeholders, review_flag)
    ]
    newest = waiting[::-1][: max(limit, 0)]  # loaded entries are sorted by date
    return ReviewList(len(waiting), tuple(_item(t) for t in newest), review_flag)
