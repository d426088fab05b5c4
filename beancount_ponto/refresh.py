"""Asking Ponto to refresh accounts from the bank, only when the user is present.

Ponto requires the present user's IP (``customerIpAddress``); unattended
requests count against the bank's limit of 4 a day, and Ponto refreshes by
itself 4 times a day. So only ``sync --refresh`` and Fava's "Sync now" call
:func:`refresh`, and at most once per 30 minutes per account. Each refresh
asks for both :data:`SUBTYPES`: ``accountDetails`` (the balance) and
``accountTransactions`` (the transactions). A synchronization that ends with a
consent error code marks the account's result with the refusal.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from beancount_ponto.consent import ConsentRefusal
from beancount_ponto.errors import PontoError
from beancount_ponto.ponto.responses import CONSENT_ERROR_CODES
from beancount_ponto.timeutil import now_utc

if TYPE_CHECKING:
    from beancount_ponto.config import AccountLink
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Account, Synchronization
    from beancount_ponto.results import AccountResult, SyncOptions
    from beancount_ponto.state import SyncState

SYNC_COOLDOWN = dt.timedelta(minutes=30)
#: What one refresh asks Ponto for: the balance, then the transactions.
SUBTYPES = ("accountDetails", "accountTransactions")


def refresh(
    client: PontoClient,
    state: SyncState,
    *,
    links: list[AccountLink],
    accounts: dict[str, Account],
    results: dict[str, AccountResult],
    options: SyncOptions,
) -> bool:
    """Create Ponto synchronizations for ``links`` and wait for them.

    Skips an account whose last request is less than 30 minutes old, with a
    note; failures become notes too (the fetch goes on with what Ponto has).

    Returns:
        True if at least one synchronization was started.
    """

    def progress(message: str) -> None:
        if options.progress:
            options.progress(message)

    now = now_utc()
    started = []
    for link in links:
        account = accounts.get(link.ponto_id)
        if account is None:
            continue
        record = state.account(account.id)
        last = record.sync_requested_at
        if last and now - last < SYNC_COOLDOWN:
            minutes = int((SYNC_COOLDOWN - (now - last)).total_seconds() // 60) + 1
            results[link.ponto_id].notes.append(
                f"bank refresh skipped: one was asked {int((now - last).total_seconds() // 60)}"
                f" min ago (next possible in {minutes} min)"
            )
            continue
        for subtype in SUBTYPES:
            try:
                sync = client.create_synchronization(account.id, options.customer_ip, subtype)
            except PontoError as exc:
                results[link.ponto_id].notes.append(f"bank refresh ({subtype}) refused: {exc}")
                continue
            record.sync_requested_at = now
            started.append((link, sync.id))
    announced: set[str] = set()
    for link, sync_id in started:
        if link.ponto_id not in announced:
            announced.add(link.ponto_id)
            progress(f"{link.account}: Ponto is refreshing from the bank...")

        def show(sync: Synchronization, name: str = link.account) -> None:
            progress(f"{name}: Ponto synchronization {sync.status}")

        try:
            done = client.wait_for_synchronization(sync_id, on_progress=show)
        except PontoError as exc:
            results[link.ponto_id].notes.append(f"bank refresh failed: {exc}")
            continue
        if done.status == "error":
            detail = "; ".join(str(e.get("detail") or e.get("code")) for e in done.errors)
            codes = [e.get("code") for e in done.errors]
            code = next((c for c in codes if isinstance(c, str) and c in CONSENT_ERROR_CODES), None)
            if code is not None:
                results[link.ponto_id].refusal = ConsentRefusal(
                    code, detail or None, done.updated_at, "synchronization"
                )
            results[link.ponto_id].notes.append(f"bank refresh failed: {detail or 'error'}")
        elif not done.finished:
            results[link.ponto_id].notes.append("bank refresh still running; fetched anyway")
    return bool(started)
