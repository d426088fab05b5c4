"""The mutable context of one sync run, and the one place a batch is written.

Contract: :class:`SyncRun` holds what a run shares between its accounts (the
state, the ledger scan made on first need, the bank zones, the opens written,
the deep walks waiting for their verdict). :meth:`SyncRun.write` appends one
batch through the crash-safe protocol of :mod:`beancount_ponto.state` (or, for
a late batch, replaces the output with the assertions it breaks withdrawn);
in a dry run it only collects the text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING

from beancount_ponto import deepcheck, withdraw
from beancount_ponto.admit import auto_open_date
from beancount_ponto.errors import LedgerError, PontoError
from beancount_ponto.ledger import (
    OUTPUT_HEADER,
    LedgerScan,
    append_text,
    scan_ledger,
)
from beancount_ponto.pipeline import Booker, account_time_zone, convert_options
from beancount_ponto.state import SyncState

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from beancount_ponto.config import AccountLink, Config
    from beancount_ponto.convert import ConvertOptions
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.ponto.models import Account
    from beancount_ponto.results import SyncOptions

log = logging.getLogger("beancount_ponto.sync")

#: Transactions per batch (and the size above which a run is a backfill).
BATCH_SIZE = 500


class SyncRun:
    """The mutable context of one run."""

    def __init__(
        self, config: Config, client: PontoClient, ledger: Path, output: Path, options: SyncOptions
    ) -> None:
        self.config = config
        self.client = client
        self.ledger = ledger
        self.output = output
        self.options = options
        self.state = SyncState.load(output)
        self._scan: LedgerScan | None = None
        self.opened: dict[str, dt.date] = {}  # opens written in this run, with their date
        self.dry_texts: list[str] = []
        self.output_was_missing = False
        self.gone = 0  # ids written before and no longer in the ledger
        self._zones: dict[str, dt.tzinfo] = {}
        self.deep_pending: list[deepcheck.PendingCheck] = []
        #: Ponto's last account list of this run (reused for the pending file)
        self.listed: Mapping[str, Account | PontoError] | None = None
        self.booker = Booker(config, ledger, output)

    @property
    def scan(self) -> LedgerScan:
        """The ledger scan, made on first need (idle runs never need it)."""
        if self._scan is None:
            self._scan = scan_ledger(self.ledger, self.output)
            written = self.state.written_ids
            self.gone = len(written - self._scan.ids - self._scan.withdrawn)
        return self._scan

    def asserted_until(self, ponto_id: str) -> str:
        """The latest date of our balance assertions of an account (ISO; "" for none).

        Read from the state and from the ledger's ``ponto_balance`` keys
        (``<account id>/<reference date>``, asserted the day after), so a lost
        state file does not hide an assertion a late transaction could break.
        """
        until = self.state.account(ponto_id).asserted_until
        dates = [until.isoformat() if until else ""]
        for key in self.scan.ids:
            account, _, reference = key.rpartition("/")
            if account == ponto_id:
                with contextlib.suppress(ValueError):
                    day = dt.date.fromisoformat(reference) + dt.timedelta(days=1)
                    dates.append(day.isoformat())
        return max(dates)

    def deleted_by_user(self, ponto_id: str) -> bool:
        """Written before but gone from the ledger.

        Only told when the ledger was scanned anyway: an idle run does not scan it.
        """
        return (
            self._scan is not None
            and ponto_id in self.state.written_ids
            and ponto_id not in self._scan.ids
        )

    def progress(self, message: str) -> None:
        """Say how the run goes (debug log, and the caller's progress callback)."""
        log.debug("%s", message)
        if self.options.progress:
            self.options.progress(message)

    def stopping(self) -> bool:
        """True once the caller asked the run to stop (SIGTERM, Ctrl-C)."""
        return bool(self.options.should_stop and self.options.should_stop())

    def is_known(self, ponto_id: str) -> bool:
        """True if ``ponto_id`` was written before or is in the ledger (scans it)."""
        return ponto_id in self.state.written_ids or ponto_id in self.scan.ids

    def time_zone(self, link: AccountLink, account: Account) -> dt.tzinfo:
        """The zone of the account's dates (see :func:`~beancount_ponto.config.account_zone`).

        The bank's zone is asked from Ponto once and kept in the state (also when
        the bank has none). A failed request fails the account rather than
        dating its entries in a guessed zone.
        """
        if account.id not in self._zones:
            record = self.state.account(account.id)
            self._zones[account.id] = account_time_zone(
                self.client, self.config, link, account, record
            )
        return self._zones[account.id]

    def options_for(self, link: AccountLink, account: Account) -> ConvertOptions:
        """How ``account``'s transactions become entries, in the bank's zone."""
        return convert_options(self.config, link, account, self.time_zone(link, account))

    def write(
        self,
        entries_text: str,
        ids: list[str],
        accounts_used: set[str],
        oldest: dt.date | None,
        *,
        late: bool = False,
    ) -> list[str]:
        """Append one batch through the crash-safe protocol.

        Args:
            entries_text: the entries.
            ids: their ids.
            accounts_used: accounts they post to. Accounts no ``open`` names are
                opened first, at :func:`auto_open_date` of ``oldest``.
            oldest: the oldest entry the caller will write for them.
            late: the batch may hold transactions dated on or before one of our
                balance assertions: the assertions it breaks are withdrawn in
                the same atomic replacement (see :mod:`beancount_ponto.withdraw`).
                One the user moved out of the output file refuses the batch.

        Returns:
            one note per withdrawn assertion.

        Raises:
            LedgerError: the output file cannot be written, or a late batch breaks
                one of our assertions that the user moved to another file
                (nothing was written).
        """
        missing = sorted(a for a in accounts_used - self.scan.open_accounts - set(self.opened))
        day = auto_open_date(oldest)
        opens = "".join(f"{day} open {name}\n" for name in missing)
        text = (opens + "\n" if opens else "") + entries_text
        notes: list[str] = []
        if self.options.dry_run:
            self.opened.update(dict.fromkeys(missing, day))
            self.dry_texts.append(text)
            return notes
        try:
            failing = withdraw.failing_assertions(self.ledger, self.output, text) if late else []
        except OSError as exc:
            raise LedgerError(
                f"cannot read {self.ledger}: {exc.strerror or exc}; "
                "nothing written for this account, the next run retries"
            ) from None
        elsewhere = [w for w in failing if not w.in_output]
        if elsewhere:  # moved by the user out of the output file: never edited by us
            raise LedgerError(withdraw.refusal(elsewhere[0], self.output))
        self.state.begin_batch(ids)
        if late:
            try:
                notes = withdraw.replace_output(self.output, failing, text, header=OUTPUT_HEADER)
            except OSError as exc:
                raise LedgerError(
                    f"cannot write {self.output}: {exc.strerror or exc}; "
                    "nothing written for this account, the next run retries"
                ) from None
        else:
            append_text(self.output, text)
        self.state.end_batch()
        self.opened.update(dict.fromkeys(missing, day))
        return notes
