"""Pending (not yet booked) transactions: listed, never written as booked.

Shared by ``bean-ponto pending``, the Fava page and the sync (for the
optional pending file). Contract:

* :func:`collect` asks Ponto once per linked account for its pending
  transactions (plus once for the account list when not given). Each becomes
  a :class:`PendingItem` converted exactly as a booked one
  (:func:`~beancount_ponto.convert.transaction_to_entry`): the bank's day in
  the account's zone, the same payee and narration. An account that cannot
  be read gets its ``error`` and the others go on.
* Pending transactions never enter the ledger's own entries: Ponto books
  them later under a **new id**, and the ordinary sync brings that one in;
  the pending one then leaves the list.
* The optional **pending file** (``pending_file`` in ponto.toml, relative to
  it; off by default) is rewritten as a whole, atomically, by every sync run
  that writes (CLI, runner, Fava). It holds each pending transaction flagged
  ``!`` with ``ponto_pending_id`` metadata (never ``ponto_id``). So that it
  never breaks a balance assertion, its postings use only accounts of its own:
  ``<Root>:Pending:<Rest>`` for the linked ``<Root>:<Rest>`` (a sibling tree,
  not a sub-account, which Beancount would count in the bank account's
  balance) against :data:`PENDING_EQUITY`. It opens those accounts itself
  unless another file of the ledger does. An account whose pending list
  cannot be read is left out of the file (named in its header), so an entry
  is never shown both pending and booked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from beancount_ponto.admit import auto_open_date
from beancount_ponto.config import account_zone
from beancount_ponto.convert import format_entries, transaction_to_entry
from beancount_ponto.errors import LedgerError, PontoError
from beancount_ponto.fileutil import atomic_write_text
from beancount_ponto.ledger import scan_ledger
from beancount_ponto.ledger_options import root_options
from beancount_ponto.pipeline import account_time_zone, convert_options
from beancount_ponto.state_schema import AccountState

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Mapping
    from decimal import Decimal
    from pathlib import Path

    from beancount.core import data

    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Account, FinancialInstitution

__all__ = [
    "PENDING_EQUITY",
    "AccountPending",
    "PendingItem",
    "bank_zones",
    "collect",
    "known_bank_zones",
    "pending_account",
    "pending_file_text",
    "unreadable",
    "write_pending_file",
]

#: The other leg of every entry in the pending file.
PENDING_EQUITY = "Equity:Pending"
#: Metadata key of a pending entry: Ponto's pending transaction id.
PENDING_ID_KEY = "ponto_pending_id"

PENDING_HEADER = (
    ";; -*- mode: beancount -*-\n"
    ";; Pending (not yet booked) bank transactions, from Ponto, flagged '!'.\n"
    ";; bean-ponto rewrites this whole file at every sync: do not edit it. Booked\n"
    ";; transactions arrive in the ordinary output file and leave this one.\n"
)

#: How one account's pending list was read.
ListState = Literal["listed", "failed"]


@dataclass(frozen=True)
class PendingItem:
    """One pending transaction of a linked account.

    Attributes:
        id: Ponto's pending transaction id (the booked one will get another).
        account: the linked ledger account.
        ponto_account_id: the Ponto account.
        date: the bank's day (as a booked entry would be dated).
        amount: the signed amount (Decimal, exact).
        currency: its currency.
        payee: as the converter sets it (the counterpart), or None.
        narration: as the converter sets it.
        entry: the converted transaction (flag ``!``), for the pending file.
    """

    id: str
    account: str
    ponto_account_id: str
    date: dt.date
    amount: Decimal
    currency: str
    payee: str | None
    narration: str
    entry: data.Transaction = dataclasses.field(repr=False, compare=False)

    def to_json(self) -> dict[str, str | None]:
        """The JSON object of ``bean-ponto pending --json`` (amount as a decimal string)."""
        return {
            "id": self.id,
            "account": self.account,
            "ponto_account_id": self.ponto_account_id,
            "date": self.date.isoformat(),
            "amount": format(self.amount, "f"),
            "currency": self.currency,
            "payee": self.payee,
            "narration": self.narration,
        }


@dataclass(frozen=True)
class AccountPending:
    """One linked account's pending transactions and available balance.

    Attributes:
        ponto_id: the Ponto account.
        account: the linked ledger account.
        currency: the account's currency ("" when Ponto could not be read).
        available_balance: Ponto's ``availableBalance``, or None.
        items: its pending transactions, oldest first.
        state: ``listed``, or ``failed`` (then ``error`` says why).
        error: one line naming the problem.
    """

    ponto_id: str
    account: str
    currency: str = ""
    available_balance: Decimal | None = None
    items: tuple[PendingItem, ...] = ()
    state: ListState = "listed"
    error: str | None = None


def _item(tx_entry: data.Transaction, link: AccountLink, ponto_id: str) -> PendingItem:
    units = tx_entry.postings[0].units
    if units is None or units.number is None:  # the converter always sets both
        raise PontoError(f"pending transaction of {link.account} without an amount")
    meta = dict(tx_entry.meta)
    pending_id = str(meta.pop("ponto_id"))
    entry = tx_entry._replace(meta={PENDING_ID_KEY: pending_id, **meta})
    return PendingItem(
        id=pending_id,
        account=link.account,
        ponto_account_id=ponto_id,
        date=entry.date,
        amount=units.number,
        currency=units.currency,
        payee=entry.payee,
        narration=entry.narration or "",
        entry=entry,
    )


def _account_pending(
    config: Config,
    client: PontoClient,
    link: AccountLink,
    account: Account,
    zone_of: Callable[[AccountLink, Account], dt.tzinfo],
) -> AccountPending:
    # The sync's own conversion (same day, payee, narration), flagged as not booked.
    options = dataclasses.replace(
        convert_options(config, link, account, zone_of(link, account)), flag="!"
    )
    entries = [transaction_to_entry(tx, options) for tx in client.pending_transactions(account.id)]
    items = sorted(
        (_item(entry, link, account.id) for entry in entries), key=lambda i: (i.date, i.id)
    )
    return AccountPending(
        ponto_id=account.id,
        account=link.account,
        currency=account.currency,
        available_balance=account.available_balance,
        items=tuple(items),
    )


def collect(
    config: Config,
    client: PontoClient,
    zone_of: Callable[[AccountLink, Account], dt.tzinfo],
    accounts: Mapping[str, Account | PontoError] | None = None,
) -> list[AccountPending]:
    """Every linked account's pending transactions, by ledger account name.

    Args:
        config: the configuration with the links.
        client: a Ponto client.
        zone_of: the zone of an account's dates (as the sync chooses it).
        accounts: Ponto's accounts by id when already read (saves a request).

    Returns:
        one :class:`AccountPending` per link; a failed one carries its error.

    Raises:
        PontoError: the account list itself could not be read.
    """
    found = client.accounts_each() if accounts is None else dict(accounts)
    out: list[AccountPending] = []
    for link in sorted(config.links.values(), key=lambda lk: lk.account):
        account = found.get(link.ponto_id)
        if isinstance(account, PontoError):
            out.append(
                AccountPending(link.ponto_id, link.account, state="failed", error=str(account))
            )
            continue
        if account is None:
            error = (
                f"Ponto account {link.ponto_id} is no longer shared with this "
                "integration; check the integration's accounts in Ponto"
            )
            out.append(AccountPending(link.ponto_id, link.account, state="failed", error=error))
            continue
        try:
            out.append(_account_pending(config, client, link, account, zone_of))
        except PontoError as exc:
            out.append(
                AccountPending(
                    link.ponto_id,
                    link.account,
                    currency=account.currency,
                    available_balance=account.available_balance,
                    state="failed",
                    error=f"pending transactions not read: {exc}",
                )
            )
    return out


def unreadable(config: Config, error: str) -> list[AccountPending]:
    """Every link as failed with ``error`` (Ponto's account list could not be read)."""
    return [
        AccountPending(link.ponto_id, link.account, state="failed", error=error)
        for link in sorted(config.links.values(), key=lambda lk: lk.account)
    ]


def bank_zones(config: Config, client: PontoClient) -> Callable[[AccountLink, Account], dt.tzinfo]:
    """``zone_of`` for :func:`collect` outside a sync: the bank's zone asked once per bank."""
    banks: dict[str, AccountState] = {}  # one remembered record per bank, as the importer

    def zone_of(link: AccountLink, account: Account) -> dt.tzinfo:
        bank = banks.setdefault(account.financial_institution_id or "", AccountState())
        return account_time_zone(client, config, link, account, bank)

    return zone_of


def known_bank_zones(
    config: Config, banks: Mapping[str, FinancialInstitution]
) -> Callable[[AccountLink, Account], dt.tzinfo]:
    """``zone_of`` for :func:`collect` from banks already read (asks Ponto nothing)."""

    def zone_of(link: AccountLink, account: Account) -> dt.tzinfo:
        bank = banks.get(account.financial_institution_id or "")
        return account_zone(config, link, lambda: bank.time_zone if bank else None)

    return zone_of


def pending_account(account: str) -> str:
    """The pending file's account for a linked one.

    ``Assets:Bank:X`` becomes ``Assets:Pending:Bank:X`` (a sibling tree, not a sub-account).
    """
    root, _, rest = account.partition(":")
    return f"{root}:Pending:{rest}"


def _file_entry(item: PendingItem) -> data.Transaction:
    bank, other = item.entry.postings
    return item.entry._replace(
        postings=[
            bank._replace(account=pending_account(item.account)),
            other._replace(account=PENDING_EQUITY),
        ]
    )


def pending_file_text(lists: list[AccountPending], opened: set[str], options: str = "") -> str:
    """The whole pending file: header, the ``open`` it needs, the entries.

    Args:
        lists: what :func:`collect` returned.
        opened: accounts another file of the ledger opens (not opened again).
        options: the ledger's renamed roots as ``option`` lines
            (:func:`~beancount_ponto.ledger_options.root_options`).
    """
    lines = [PENDING_HEADER + options]
    failed = [p for p in lists if p.state == "failed"]
    for item in failed:
        lines.append(f";; not listed (could not be read): {item.account}\n")
    entries = [_file_entry(i) for p in lists for i in p.items]
    needed = sorted({p.account for e in entries for p in e.postings} - opened)
    if entries:
        day = auto_open_date(min(e.date for e in entries))
        lines.append("\n" + "".join(f"{day} open {name}\n" for name in needed))
        lines.append(
            "\n" + format_entries(sorted(entries, key=lambda e: (e.date, e.meta[PENDING_ID_KEY])))
        )
    return "".join(lines)


def write_pending_file(path: Path, ledger: Path | None, lists: list[AccountPending]) -> None:
    """Rewrite the pending file as a whole, atomically.

    Args:
        path: the pending file.
        ledger: the main ledger, whose other files' ``open`` are not repeated
            (None: the file opens everything it uses).
        lists: what :func:`collect` returned.

    Raises:
        LedgerError: the file cannot be written (the old one stays).
    """
    opened: set[str] = set()
    if ledger is not None and ledger.is_file():
        opened = scan_ledger(ledger, skip=path.resolve()).open_accounts
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, pending_file_text(lists, opened, root_options(ledger)))
    except OSError as exc:
        raise LedgerError(f"cannot write {path}: {exc.strerror or exc}") from None
