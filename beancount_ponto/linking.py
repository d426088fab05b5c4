"""Links as the user makes them: re-linking keeps settings, currencies are checked.

Contract:

* :func:`relink` builds the link of a Ponto account: a new one with the given
  settings, or, when the account was linked before, the old link with only the
  settings the user gave changed (``start_date``, ``use_value_date``,
  ``time_zone`` and ``balance_assertions`` are kept otherwise: dropping a
  ``start_date`` would bring back transactions the user typed by hand).
* :func:`currency_warnings` names every link whose currency differs from the
  one Ponto reports for the account.
* :func:`describe_link` is how a link is named to people: IBAN, currency and
  Ponto id, since one IBAN can hold several currency accounts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beancount_ponto.config import AccountLink

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from beancount_ponto.config import Config
    from beancount_ponto.ponto.models import Account


@dataclass(frozen=True)
class LinkChanges:
    """What the user asked to set on a link; None = keep (or default for a new link)."""

    balance_assertions: bool | None = None
    use_value_date: bool | None = None
    time_zone: str | None = None
    start_date: dt.date | None = None


def relink(
    old: AccountLink | None, account: Account, ledger_account: str, changes: LinkChanges
) -> AccountLink:
    """The link of ``account`` to ``ledger_account``, keeping what ``changes`` leaves None."""
    base = old or AccountLink(account.id, ledger_account)
    given = {k: v for k, v in dataclasses.asdict(changes).items() if v is not None}
    return dataclasses.replace(
        base,
        account=ledger_account,
        reference=account.reference,
        currency=account.currency,
        **given,
    )


def describe_link(link: AccountLink) -> str:
    """``BE80... (EUR, <id>)``: unambiguous when several accounts share an IBAN."""
    what = ", ".join(x for x in (link.currency, link.ponto_id) if x)
    return f"{link.reference} ({what})" if link.reference else link.ponto_id


def currency_warnings(config: Config, accounts: Iterable[Account]) -> list[str]:
    """One line per link whose configured currency is not the one Ponto reports."""
    lines = []
    for account in accounts:
        link = config.links.get(account.id)
        if link and link.currency and account.currency and link.currency != account.currency:
            lines.append(
                f"bean-ponto: warning: [accounts.{account.id}] currency = "
                f'"{link.currency}" but Ponto reports {account.currency} for '
                f"{account.reference}: correct `currency` in {config.path}"
            )
    return lines
