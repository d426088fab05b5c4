"""Transfers between the user's own accounts: which IBANs are one's own, and their other leg.

Contract (pure: no I/O):

* A transaction is a **transfer** when its counterpart IBAN (compared without
  spaces, ignoring case) is the ``reference`` of *another* linked account, or an
  IBAN listed under ``[own_accounts]`` in ponto.toml.
* Between two linked accounts the other leg is the transit account
  ``transfer_account`` (default ``Assets:Transfers``). Each bank's half is its
  own entry, on that bank's own date, with its own ``ponto_id``; so once both
  halves are in, they cancel on the transit account (it clears), and a half
  whose twin has not arrived yet shows as a balance there. A half arriving the
  same day, a day later or in a later run only adds its own entry: nothing is
  paired, rewritten or doubled, and the balance assertions of both linked
  accounts keep passing.
* For an ``[own_accounts]`` IBAN (an account of the user's that is not linked,
  so only one half ever arrives) the other leg is its ledger account directly.
* A linked account's IBAN beats the same IBAN under ``[own_accounts]``. Several
  links may share one IBAN (a multi-currency account, one Ponto account per
  currency): a transaction whose counterpart IBAN is that of its own account is
  a transfer only when another link has that IBAN too.
* Transfers are decided before rules and learning: a transfer to one's own
  account is a fact, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from beancount.core import account as bc_account

from beancount_ponto.errors import ConfigError
from beancount_ponto.rules import normalise_iban

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping

    from beancount_ponto.rules import BankFields

__all__ = ["OwnAccount", "own_accounts", "parse_own_accounts", "transfer_leg"]

DEFAULT_TRANSFER_ACCOUNT = "Assets:Transfers"


@dataclass(frozen=True)
class OwnAccount:
    """One IBAN of the user's own.

    Attributes:
        other_leg: the account a transfer to or from this IBAN is booked against.
        linked_accounts: the ledger accounts of the links with this IBAN (empty
            for an ``[own_accounts]`` entry).
    """

    other_leg: str
    linked_accounts: frozenset[str] = frozenset()


class _Link(Protocol):
    """What :func:`own_accounts` needs of an account link."""

    @property
    def account(self) -> str:
        """The linked ledger account."""

    @property
    def reference(self) -> str:
        """The account's IBAN (or other reference)."""


def own_accounts(
    own: Mapping[str, str], links: Iterable[_Link], transfer_account: str
) -> dict[str, OwnAccount]:
    """The user's own IBANs (normalised: no spaces, upper case) and how to book them.

    Args:
        own: the ``[own_accounts]`` table (IBAN = ledger account).
        links: the account links; their IBANs book through ``transfer_account``.
        transfer_account: the transit account of transfers between links.
    """
    targets = {
        iban: OwnAccount(account) for raw, account in own.items() if (iban := normalise_iban(raw))
    }
    for link in links:
        iban = normalise_iban(link.reference)
        if iban:
            old = targets.get(iban)
            shared = old.linked_accounts if old else frozenset()
            targets[iban] = OwnAccount(transfer_account, shared | {link.account})
    return targets


def transfer_leg(targets: Mapping[str, OwnAccount], fields: BankFields) -> str | None:
    """The other leg of ``fields`` when it is a transfer between own accounts, else None."""
    iban = normalise_iban(fields.counterpart_iban)
    target = targets.get(iban) if iban else None
    if target is None or target.linked_accounts == {fields.linked_account}:
        return None
    return target.other_leg


def parse_own_accounts(
    raw: object,
    linked: Collection[str],
    is_valid_account: Callable[[str], bool] = bc_account.is_valid,
) -> dict[str, str]:
    """The ``[own_accounts]`` table (IBAN = "Ledger:Account"), checked.

    Args:
        raw: the table as TOML read it (None when absent).
        linked: the ledger accounts of the links: one of them here would book
            each transfer twice (its own bank sends its half too).
        is_valid_account: the ledger's account check (its roots; see
            :func:`beancount_ponto.ledger_options.check_account`).

    Raises:
        ConfigError: naming the entry and the fix.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError('[own_accounts] must be a table of IBAN = "Assets:..." lines')
    seen: dict[str, str] = {}
    result: dict[str, str] = {}
    for iban, account in raw.items():
        where = f"[own_accounts] {iban!r}"
        key = normalise_iban(iban)
        if key is None:
            raise ConfigError(f"{where}: an IBAN is needed as the key")
        if not isinstance(account, str) or not is_valid_account(account):
            raise ConfigError(
                f"{where}: {account!r} is not a Beancount account name (like Assets:Bank:Other)"
            )
        if account in linked:
            raise ConfigError(
                f"{where}: {account} is a linked account, whose transfers are booked through "
                "transfer_account; remove this line"
            )
        if key in seen:
            raise ConfigError(f"{where}: the same IBAN as {seen[key]!r}; keep one line")
        seen[key] = iban
        result[iban] = account
    return result
