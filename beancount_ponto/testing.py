"""Setup shared by the demo, the tests, the benchmarks and the screenshot script.

Contract: :func:`connect` does what a user does after ``bean-ponto login`` and
``bean-ponto link`` (store the credentials, link Ponto's accounts to ledger
accounts) in one call, against any Ponto API (the simulator, usually). It
writes ``ponto.toml`` through :func:`~beancount_ponto.config.save_config`, so
what the tests set up is what the commands would have written.
"""

from __future__ import annotations

import dataclasses
from contextlib import closing
from typing import TYPE_CHECKING

from beancount_ponto.config import AccountLink, Config, load_config, save_config
from beancount_ponto.credentials import store_credentials
from beancount_ponto.ponto.client import PontoClient

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from beancount_ponto.credentials import Credentials

#: The ledger accounts the demo's three Ponto accounts are linked to, in Ponto's order.
LEDGER_ACCOUNTS = ("Assets:Bank:Checking", "Assets:Bank:Savings", "Assets:Bank:Dollars")


def connect(
    ledger: Path,
    *,
    api_url: str,
    credentials: Credentials,
    credentials_file: Path,
    account_names: Sequence[str] = LEDGER_ACCOUNTS,
) -> Config:
    """Point ``ponto.toml`` beside ``ledger`` at a Ponto API and link its accounts.

    Stores ``credentials`` in ``credentials_file`` (mode 0600) and links
    Ponto's accounts, in Ponto's order, to ``account_names`` (as many as there
    are names). Used by the demo, the tests, the benchmarks and the screenshots.

    Returns:
        the saved configuration.
    """
    config = dataclasses.replace(
        load_config(ledger.parent / "ponto.toml"),
        ledger=ledger,
        api_url=api_url,
        credentials_file=credentials_file,
    )
    store_credentials(config.credentials_path(), credentials)
    client = PontoClient(credentials.client_id, credentials.client_secret, base_url=api_url)
    with closing(client):
        accounts = client.accounts()
    links = {
        account.id: AccountLink(account.id, name, account.reference, account.currency)
        for account, name in zip(accounts, account_names, strict=False)
    }
    config = config.with_links(links)
    save_config(config)
    return config
