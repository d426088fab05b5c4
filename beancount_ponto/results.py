"""The outcome of a sync run and the options that shape it.

Plain records shared by the CLI, the runner and the Fava page; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from beancount_ponto.consent import ConsentRefusal

#: Who ran a sync, for the run history.
RunSource = Literal["cli", "extract", "runner", "fava", "demo"]


@dataclass
class AccountResult:
    """The outcome of one run for one linked account.

    ``refusal`` is set when Ponto reports the account's bank consent revoked or
    invalid: what Ponto still serves was fetched, but the account needs action
    (reauthorization in the Ponto dashboard) before new transactions arrive.
    """

    ponto_id: str
    account: str
    new: int = 0
    skipped: int = 0
    deleted: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    stopped: bool = False
    refusal: ConsentRefusal | None = None

    def summary(self) -> str:
        """One line for people."""
        if self.error:
            return f"{self.account}: FAILED: {self.error}"
        text = f"{self.account}: {self.new} new"
        if self.skipped:
            text += f", {self.skipped} already in the ledger"
        if self.deleted:
            text += f", {self.deleted} deleted by you (kept deleted)"
        action = [f"ACTION NEEDED: {self.refusal.describe()}"] if self.refusal else []
        return "; ".join([text, *self.notes, *action])


@dataclass
class SyncResult:
    """The outcome of one run (``notes``: about the whole ledger, not one account)."""

    output: Path
    included: bool
    accounts: list[AccountResult] = field(default_factory=list)
    entries_text: str = ""
    stopped: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no account failed."""
        return all(a.error is None for a in self.accounts)

    @property
    def needs_action(self) -> list[AccountResult]:
        """Accounts fetched without error whose consent Ponto reports revoked or invalid."""
        return [a for a in self.accounts if a.error is None and a.refusal is not None]

    @property
    def new(self) -> int:
        """New transactions written (or found, for a dry run)."""
        return sum(a.new for a in self.accounts)


@dataclass
class SyncOptions:
    """How to run.

    Attributes:
        refresh: ask Ponto to synchronize with the bank first (user present).
        customer_ip: the present user's IP (required with ``refresh``).
        source: who runs (``cli``, ``runner``, ``fava``), for the history.
        dry_run: collect the new entries as text, write nothing (``extract``).
        lock_timeout: seconds to wait for another writer.
        progress: called with short progress messages.
        should_stop: polled between pages and batches; True stops cleanly.
        full: read every account's whole list (a deep check), not only down to
            the overlap; otherwise a deep check runs when due (daily, mismatch).
    """

    refresh: bool = False
    customer_ip: str = "127.0.0.1"
    source: RunSource = "cli"
    dry_run: bool = False
    lock_timeout: float = 60.0
    progress: Callable[[str], None] | None = None
    should_stop: Callable[[], bool] | None = None
    full: bool = False
