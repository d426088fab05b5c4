"""``bean-ponto login``, ``accounts``, ``link`` and ``unlink``: the integration and its links."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from contextlib import closing
from typing import TYPE_CHECKING

from beancount_ponto.config import (
    Config,
    save_config,
)
from beancount_ponto.credentials import Credentials, client_for, store_credentials
from beancount_ponto.errors import ConfigError
from beancount_ponto.ledger_options import account_types, check_account
from beancount_ponto.linking import LinkChanges, currency_warnings, describe_link, relink
from beancount_ponto.timeutil import now_utc, to_iso, zone

if TYPE_CHECKING:
    import argparse

    from beancount_ponto.ponto.models import Account

from beancount_ponto.cli.common import err, out


def normalize_reference(reference: str) -> str:
    """An IBAN without spaces, upper case, for comparing."""
    return "".join(reference.split()).upper()


def find_account(accounts: list[Account], ref: str) -> Account:
    """The account whose id or IBAN is ``ref``.

    Raises:
        ConfigError: no match, or an IBAN shared by several currency accounts.
    """
    by_id = [a for a in accounts if a.id == ref]
    if by_id:
        return by_id[0]
    matches = [a for a in accounts if normalize_reference(a.reference) == normalize_reference(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(f"no Ponto account with id or IBAN {ref!r}; see `bean-ponto accounts`")
    choices = ", ".join(f"{a.id} ({a.currency})" for a in matches)
    raise ConfigError(f"IBAN {ref} has several currency accounts; link one by id: {choices}")


def _account_json(account: Account, config: Config) -> dict[str, object]:
    link = config.links.get(account.id)
    return {
        "id": account.id,
        "reference": account.reference,
        "description": account.description,
        "currency": account.currency,
        "balance": str(account.current_balance) if account.current_balance is not None else None,
        "balance_reference_date": to_iso(account.current_balance_reference_date),
        "consent_expires_at": to_iso(account.consent_expires_at),
        "synchronized_at": to_iso(account.synchronized_at),
        "linked_account": link.account if link else None,
    }


def cmd_login(args: argparse.Namespace, config: Config) -> int:
    """Verify and store the Client ID and Client Secret (mode 0600)."""
    client_id = args.client_id or os.environ.get("PONTO_CLIENT_ID")
    if not client_id:
        if not sys.stdin.isatty():
            raise ConfigError("pass --client-id ID (the secret is read from standard input)")
        client_id = input("Client ID: ").strip()
    if sys.stdin.isatty():
        secret = getpass.getpass("Client Secret (hidden): ")
    else:
        secret = sys.stdin.readline()
    secret = secret.strip()
    if not client_id or not secret:
        raise ConfigError("both a Client ID and a Client Secret are needed")
    credentials = Credentials(client_id, secret)
    client = client_for(config, credentials)
    try:
        client.authenticate()
    finally:
        client.close()
    path = config.credentials_path()
    store_credentials(path, credentials)
    out(f"Ponto accepted the credentials; stored in {path} (mode 0600).")
    return 0


def _consent_text(account: Account) -> str:
    if account.consent_expires_at is None:
        return "?"
    days = (account.consent_expires_at - now_utc()).days
    return f"{account.consent_expires_at.astimezone().date()} ({days}d)"


def cmd_accounts(args: argparse.Namespace, config: Config) -> int:
    """List the Ponto accounts the integration can read."""
    with closing(client_for(config)) as client:
        accounts = client.accounts()
    for line in currency_warnings(config, accounts):
        err(line)
    if args.json:
        out(json.dumps([_account_json(a, config) for a in accounts], indent=2))
        return 0
    rows = [("ID", "IBAN", "CUR", "BALANCE", "CONSENT EXPIRES", "LINKED TO")]
    for a in accounts:
        link = config.links.get(a.id)
        rows.append(
            (
                a.id,
                a.reference,
                a.currency,
                "" if a.current_balance is None else str(a.current_balance),
                _consent_text(a),
                link.account if link else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_link(args: argparse.Namespace, config: Config) -> int:
    """Link a Ponto account (id or IBAN) to an asset or liability account.

    Linking an account again keeps its settings unless an option changes them.
    """
    types = account_types(config.ledger)
    account_name = check_account(
        args.account, types, what="link", roots=(types.assets, types.liabilities)
    )
    start_date = None
    if args.start_date:
        try:
            start_date = dt.date.fromisoformat(args.start_date)
        except ValueError:
            raise ConfigError(
                f"--start-date {args.start_date!r} is not a date like 2024-01-31"
            ) from None
    if args.time_zone:
        zone(args.time_zone)
    with closing(client_for(config)) as client:
        account = find_account(client.accounts(), args.ref)
    other = config.link_for_account(account_name)
    if other and other.ponto_id != account.id:
        raise ConfigError(f"{account_name} is already linked to Ponto account {other.ponto_id}")
    old = config.links.get(account.id)
    if old and old.currency and old.currency != account.currency:
        err(
            f"bean-ponto: warning: {account.id} was linked as {old.currency}; Ponto says "
            f"{account.currency}, now saved"
        )
    changes = LinkChanges(args.balance, args.value_date, args.time_zone, start_date)
    link = relink(old, account, account_name, changes)
    save_config(config.with_links({**config.links, account.id: link}))
    kept = " (its other settings kept)" if old else ""
    out(f"Linked {describe_link(link)} to {account_name}{kept}.")
    return 0


def cmd_unlink(args: argparse.Namespace, config: Config) -> int:
    """Remove a link (by Ponto id, IBAN or ledger account); offline."""
    ref = normalize_reference(args.ref)
    gone = [
        pid
        for pid, link in config.links.items()
        if args.ref in (pid, link.account) or normalize_reference(link.reference) == ref
    ]
    if not gone:
        raise ConfigError(f"nothing linked matches {args.ref!r}")
    if len(gone) > 1:
        raise ConfigError(f"{args.ref} matches several links; unlink by id: {', '.join(gone)}")
    links = {pid: link for pid, link in config.links.items() if pid not in gone}
    save_config(config.with_links(links))
    old = config.links[gone[0]]
    out(f"Unlinked {describe_link(old)} from {old.account}.")
    return 0
