"""In-memory records of the Ponto simulator and cursor paging over them.

Contract:

* :class:`Txn` is one (pending) transaction; its list order is newest first by
  ``(execution_date, created_at, id)`` descending (``"date"``, the default) or,
  as OCA's maintainers describe real Ponto, by ``(created_at, id)`` descending
  (``"created"``: a late delivery with an old date comes first).
* :class:`TxnList` keeps transactions sorted with an id -> position index, so
  :func:`page` costs O(limit) per request; inserting re-indexes only the items
  after the insertion point (O(1) for the usual "newest" insert).
* :func:`page` implements Ponto's cursors (``before``/``after`` an id) and raises
  :class:`PagingError` for an unknown cursor id.
* Records are plain mutable objects; the caller (the simulator state) guards
  them with its lock.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from decimal import Decimal

#: The sort key of a transaction: ascending means oldest first.
TxnKey = tuple[dt.date, dt.datetime, str]
#: How a transaction list is sorted: by entry date, or by when Ponto created the record.
ListOrder = Literal["date", "created"]
LIST_ORDERS: tuple[ListOrder, ...] = ("date", "created")


class PagingError(ValueError):
    """A paging parameter is invalid (unknown cursor id, bad limit).

    Attributes:
        attribute: the offending query parameter, e.g. ``page[after]``.
    """

    def __init__(self, message: str, attribute: str) -> None:
        super().__init__(message)
        self.attribute = attribute


@dataclass(slots=True)
class Txn:
    """One transaction as stored by the simulator.

    ``extra`` holds the other Ponto attributes by their camelCase name; the
    ones not present are served as ``null``.
    """

    id: str
    amount: Decimal
    currency: str
    execution_date: dt.date
    value_date: dt.date
    created_at: dt.datetime
    updated_at: dt.datetime
    extra: dict[str, Any]

    @property
    def key(self) -> TxnKey:
        """The sort key (ascending = oldest first)."""
        return (self.execution_date, self.created_at, self.id)


class HasId(Protocol):
    """Anything with an ``id``."""

    @property
    def id(self) -> str:
        """The resource id."""
        ...


T = TypeVar("T", bound=HasId)
T_co = TypeVar("T_co", bound=HasId, covariant=True)


class Sequence(Protocol[T_co]):  # pragma: no cover - typing only
    """A newest-first indexed collection that :func:`page` can walk."""

    def __len__(self) -> int: ...

    def at(self, index: int) -> T_co:
        """Item at ``index`` in list (newest-first) order."""
        ...

    def index_of(self, item_id: str) -> int | None:
        """List position of ``item_id``, or None."""
        ...


class ListSeq(Generic[T]):
    """A small fixed list (accounts, a synchronization's updates) in list order."""

    def __init__(self, items: list[T]) -> None:
        self._items = items
        self._pos = {item.id: i for i, item in enumerate(items)}

    def __len__(self) -> int:
        return len(self._items)

    def at(self, index: int) -> T:
        """Item at ``index``."""
        return self._items[index]

    def index_of(self, item_id: str) -> int | None:
        """Position of ``item_id``, or None."""
        return self._pos.get(item_id)


class TxnList:
    """Transactions kept oldest-first internally and served newest-first."""

    def __init__(self, items: list[Txn] | None = None, order: ListOrder = "date") -> None:
        self.order: ListOrder = order
        self._items: list[Txn] = sorted(items or [], key=self._key)
        self._keys: list[TxnKey] = [self._key(t) for t in self._items]
        self._pos: dict[str, int] = {t.id: i for i, t in enumerate(self._items)}

    def _key(self, txn: Txn) -> TxnKey:
        # By creation: a constant first field leaves (created_at, id) to decide.
        return txn.key if self.order == "date" else (dt.date.min, txn.created_at, txn.id)

    def reordered(self, order: ListOrder) -> TxnList:
        """The same transactions sorted by ``order``."""
        return TxnList(self._items, order)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, txn_id: object) -> bool:
        return txn_id in self._pos

    def at(self, index: int) -> Txn:
        """Transaction at newest-first position ``index``."""
        return self._items[len(self._items) - 1 - index]

    def index_of(self, item_id: str) -> int | None:
        """Newest-first position of ``item_id``, or None."""
        pos = self._pos.get(item_id)
        return None if pos is None else len(self._items) - 1 - pos

    def get(self, txn_id: str) -> Txn | None:
        """The transaction with id ``txn_id``, or None."""
        pos = self._pos.get(txn_id)
        return None if pos is None else self._items[pos]

    def add(self, txn: Txn) -> None:
        """Insert ``txn`` at its sorted place.

        Raises:
            ValueError: if a transaction with the same id exists.
        """
        if txn.id in self._pos:
            raise ValueError(f"duplicate transaction id {txn.id}")
        key = self._key(txn)
        where = bisect.bisect_right(self._keys, key)
        self._keys.insert(where, key)
        self._items.insert(where, txn)
        for i in range(where, len(self._items)):
            self._pos[self._items[i].id] = i

    def remove(self, txn_id: str) -> Txn:
        """Take the transaction ``txn_id`` out (O(n): re-indexes the list).

        Raises:
            KeyError: no transaction has that id.
        """
        pos = self._pos.pop(txn_id)
        txn = self._items.pop(pos)
        del self._keys[pos]
        for i in range(pos, len(self._items)):
            self._pos[self._items[i].id] = i
        return txn

    def newest_first(self) -> list[Txn]:
        """All transactions, newest first (a copy)."""
        return self._items[::-1]

    def latest_day(self) -> dt.date | None:
        """The latest execution date, whatever the list order (None when empty)."""
        if self.order == "date":
            return self._items[-1].execution_date if self._items else None
        return max((t.execution_date for t in self._items), default=None)


@dataclass(slots=True)
class SyncRec:
    """A synchronization resource."""

    id: str
    account_id: str
    subtype: str
    customer_ip: str
    created_at: dt.datetime
    updated_at: dt.datetime
    status: str = "pending"
    errors: list[dict[str, Any]] = field(default_factory=list)
    updated: list[Txn] = field(default_factory=list)


@dataclass(slots=True)
class AccountRec:
    """An account and everything the simulator keeps about it."""

    id: str
    reference: str
    currency: str
    subtype: str
    description: str
    product: str
    holder_name: str
    internal_reference: str
    authorized_at: dt.datetime
    expires_at: dt.datetime
    txns: TxnList
    pending: TxnList
    balance: Decimal
    balance_changed_at: dt.datetime
    synchronized_at: dt.datetime
    latest_sync: SyncRec
    queued: int = 0
    #: attributes served verbatim instead of the computed ones (malformed answers)
    served: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page:
    """The result of :func:`page`: items ``start:end`` of a sequence."""

    start: int
    end: int
    total: int

    @property
    def has_prev(self) -> bool:
        """True if newer items precede this page."""
        return self.start > 0

    @property
    def has_next(self) -> bool:
        """True if older items follow this page."""
        return self.end < self.total


def page(seq: Sequence[T], limit: int, before: str | None, after: str | None) -> Page:
    """Select one page of ``seq`` (newest-first list order).

    Args:
        seq: the collection.
        limit: page size, 1..100.
        before: return the ``limit`` items immediately before this id.
        after: return the ``limit`` items immediately after this id.

    Raises:
        PagingError: if a cursor id is not in ``seq`` or both cursors are given.
    """
    total = len(seq)
    if before is not None and after is not None:
        raise PagingError("use either page[before] or page[after], not both", "page[before]")
    if after is not None:
        pos = seq.index_of(after)
        if pos is None:
            raise PagingError(f"page[after] refers to an unknown id: {after}", "page[after]")
        start = pos + 1
        return Page(start, min(total, start + limit), total)
    if before is not None:
        pos = seq.index_of(before)
        if pos is None:
            raise PagingError(f"page[before] refers to an unknown id: {before}", "page[before]")
        return Page(max(0, pos - limit), pos, total)
    return Page(0, min(total, limit), total)


@dataclass(frozen=True, slots=True)
class Rendered:
    """An already rendered resource, pageable with :class:`ListSeq`."""

    id: str
    doc: dict[str, Any]
