"""Fetching new transactions without losing late ones; shared by sync and the importer.

Ponto lists an account's transactions newest first and offers no date filter,
only an id cursor; the sort key is not documented, and a transaction can be
delivered late with an older date. Stopping at the first known id (as the
OCA Odoo module did) skips such late transactions. :func:`walk` therefore
keeps reading, page by page, until a page both contains a transaction already
known and reaches back more than ``overlap_days`` before the newest known
date. With typical volumes the first page already does, so an idle run costs
one page per account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beancount_ponto.client import PontoClient
from beancount_ponto.config import Config, Credentials, resolve_credentials
from beancount_ponto.convert import local_date

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from beancount_ponto.models import Transaction


def make_client(config: Config, credentials: Credentials | None = None) -> PontoClient:
    """A client for the configured API, with stored or environment credentials.

    Raises:
        CredentialsMissingError: if no credentials are known.
    """
    creds = credentials or resolve_credentials(config)
    cert: str | tuple[str, str] | None = None
    if config.client_cert:
        cert = (
            (str(config.client_cert), str(config.client_key))
            if config.client_key
            else str(config.client_cert)
        )
    return PontoClient(
        creds.client_id, creds.client_secret, base_url=config.effective_api_url(), cert=cert
    )


@dataclass
class WalkStats:
    """What one walk read."""

    pages: int = 0
    seen: int = 0
    known: int = 0
    interrupted: bool = False


def entry_date(tx: Transaction, tz: dt.tzinfo, use_value_date: bool) -> dt.date:
    """The ledger date of ``tx`` (see :mod:`beancount_ponto.convert`)."""
    stamp = tx.value_date if use_value_date and tx.value_date else tx.execution_date
    return local_date(stamp, tz)


def walk(
    client: PontoClient,
    account_id: str,
    *,
    is_known: Callable[[str], bool],
    date_of: Callable[[Transaction], dt.date],
    overlap_days: int = 7,
    start_date: dt.date | None = None,
    stats: WalkStats | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[Transaction, bool]]:
    """Yield ``(transaction, known)`` newest first until the overlap rule says stop.

    Args:
        client: the Ponto client.
        account_id: the Ponto account.
        is_known: whether an id is already in the ledger (or was written before).
        date_of: the ledger date of a transaction.
        overlap_days: how far below the newest known date to keep reading.
        start_date: ignore transactions dated before it and stop once past it.
        stats: filled in with counts as the walk goes.
        should_stop: polled between pages; True ends the walk early and sets
            ``stats.interrupted``: then what was yielded must not be written, since
            older unknown transactions may remain unread.
    """
    stats = stats if stats is not None else WalkStats()
    newest_known: dt.date | None = None
    for page in client.transaction_pages(account_id):
        stats.pages += 1
        oldest: dt.date | None = None
        for tx in page:
            day = date_of(tx)
            oldest = day if oldest is None else min(oldest, day)
            stats.seen += 1
            if start_date and day < start_date:
                continue
            known = is_known(tx.id)
            if known:
                stats.known += 1
                newest_known = day if newest_known is None else max(newest_known, day)
            yield tx, known
        if oldest is None:
            break
        if start_date and oldest < start_date:
            return
        if newest_known and oldest < newest_known - dt.timedelta(days=overlap_days):
            return
        if should_stop and should_stop():
            stats.interrupted = True
            return
