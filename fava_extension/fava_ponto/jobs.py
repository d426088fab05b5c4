"""Background jobs of the Fava page: one sync at a time, with visible progress.

Contract: :meth:`JobRunner.start` runs ``work(progress)`` in a daemon thread
unless a job is already running (then that job is returned and nothing new
starts). ``work`` reports progress by calling ``progress(message)`` and
returns a list of JSON-ready per-account results. A job in which every
account failed (an outage) ends ``failed`` with the problem said once, and
each account's line then just says it failed. Any exception ends the job
as ``failed``; a :class:`~beancount_ponto.errors.PontoError` keeps its
one-line message, anything else is logged and shown as an internal error
(never with a traceback or local values in the answer). Snapshots returned
by :meth:`JobRunner.snapshot` are plain dicts safe to send to a browser.
:func:`sync_work` is the page's one kind of work: a locked
:func:`~beancount_ponto.sync.run_sync`, then a notice to Fava's watcher
when the output file changed.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from beancount_ponto.credentials import client_for
from beancount_ponto.errors import PontoError
from beancount_ponto.i18n import _
from beancount_ponto.sync import SyncOptions, run_sync
from beancount_ponto.timeutil import now_utc, to_iso
from fava_ponto.view import problem_key

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable
    from pathlib import Path

    from beancount_ponto.config import Config

log = logging.getLogger(__name__)

JobState = Literal["running", "done", "failed"]
MAX_MESSAGES = 200
LOCK_TIMEOUT = 30.0


@dataclass
class Job:
    """One background run (``kind`` is ``sync`` with a bank refresh, or ``fetch``)."""

    id: int
    kind: str
    started_at: dt.datetime
    state: JobState = "running"
    finished_at: dt.datetime | None = None
    messages: list[str] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        """One line for people."""
        if self.state == "running":
            return _("running")
        if self.state == "failed":
            return str(self.error)
        new = sum(int(a.get("new") or 0) for a in self.accounts)
        failed = sum(1 for a in self.accounts if a.get("error"))
        text = _("1 new transaction") if new == 1 else _("%(count)s new transactions", count=new)
        if failed:
            text += ", " + (
                _("1 account failed")
                if failed == 1
                else _("%(count)s accounts failed", count=failed)
            )
        return text

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready snapshot."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at),
            "messages": list(self.messages),
            "accounts": [dict(a) for a in self.accounts],
            "error": self.error,
            "summary": self.summary(),
        }


class JobRunner:
    """Runs at most one job at a time and remembers the last one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None

    def start(
        self, kind: str, work: Callable[[Callable[[str], None]], list[dict[str, Any]]]
    ) -> tuple[Job, bool]:
        """Start ``work`` in the background.

        Returns:
            ``(job, started)``: the new job and True, or the running one and False.
        """
        with self._lock:
            if self._job is not None and self._job.state == "running":
                return self._job, False
            job = Job(id=next(self._ids), kind=kind, started_at=now_utc())
            self._job = job
            # The job speaks the language of the request that started it.
            context = contextvars.copy_context()
            thread = threading.Thread(
                target=context.run,
                args=(self._run, job, work),
                name=f"ponto-{kind}-{job.id}",
                daemon=True,
            )
            self._thread = thread
        thread.start()
        return job, True

    def _progress(self, job: Job, message: str) -> None:
        with self._lock:
            job.messages.append(message)
            del job.messages[:-MAX_MESSAGES]

    def _run(self, job: Job, work: Callable[[Callable[[str], None]], list[dict[str, Any]]]) -> None:
        try:
            accounts = work(lambda message: self._progress(job, message))
        except PontoError as exc:
            self._finish(job, "failed", error=str(exc))
        except Exception as exc:  # a job must never die silently
            log.exception("Ponto %s job failed", job.kind)
            self._finish(job, "failed", error=f"internal error ({exc.__class__.__name__}); see log")
        else:
            failed = [a for a in accounts if a.get("error")]
            if accounts and len(failed) == len(accounts):
                self._finish(job, "failed", error=outage(accounts), accounts=accounts)
            else:
                self._finish(job, "done", accounts=accounts)

    def _finish(
        self,
        job: Job,
        state: JobState,
        *,
        error: str | None = None,
        accounts: list[dict[str, Any]] | None = None,
    ) -> None:
        with self._lock:
            job.accounts = accounts or []
            job.error = error
            job.finished_at = now_utc()
            job.state = state

    def snapshot(self) -> dict[str, Any] | None:
        """The current or last job as JSON-ready data, or None if none ran yet."""
        with self._lock:
            return self._job.to_json() if self._job is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current job's thread (tests, shutdown); True if it ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()


def outage(accounts: list[dict[str, Any]]) -> str:
    """One line for a run in which every account failed; shortens their own lines.

    The same problem (request ids aside) is said once, not once per account.
    """
    distinct: dict[str, str] = {}
    for item in accounts:
        distinct.setdefault(problem_key(str(item["error"])), str(item["error"]))
    if len(distinct) > 1:
        return (
            _("every account failed:")
            + " "
            + "; ".join(f"{a['account']}: {a['error']}" for a in accounts)
        )
    for item in accounts:
        item["summary"] = _("%(account)s: failed", account=item["account"])
    return _("every account failed:") + " " + next(iter(distinct.values()))


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def sync_work(
    config: Config,
    *,
    ledger: Path,
    output: Path,
    refresh: bool,
    customer_ip: str,
    notify: Callable[[Path], None],
) -> Callable[[Callable[[str], None]], list[dict[str, Any]]]:
    """The work of one sync job: :func:`~beancount_ponto.sync.run_sync`, then ``notify``.

    Args:
        config: the configuration (its links and credentials are used).
        ledger: the main ledger file.
        output: the file the sync appends to.
        refresh: ask Ponto to refresh from the bank first (the user is present).
        customer_ip: the present user's IP address, for Ponto.
        notify: called with ``output`` when the run changed it, so Fava reloads.
    """

    def work(progress: Callable[[str], None]) -> list[dict[str, Any]]:
        before = _mtime(output)
        client = client_for(config)
        progress(
            _("Asking Ponto to refresh from the bank...")
            if refresh
            else _("Fetching new transactions from Ponto...")
        )
        options = SyncOptions(
            refresh=refresh,
            customer_ip=customer_ip,
            source="fava",
            progress=progress,
            lock_timeout=LOCK_TIMEOUT,
        )
        try:
            # In English: what the sync writes down (run notes, state) is read by the CLI too.
            result = contextvars.Context().run(
                run_sync, config, client, ledger=ledger, output=output, options=options
            )
        finally:
            client.close()
            if _mtime(output) != before:
                notify(output)
        if not result.included:
            name = os.path.relpath(output, ledger.parent)
            progress(
                _(
                    '%(file)s is not included in the ledger: add include "%(name)s"',
                    file=output.name,
                    name=name,
                )
            )
        progress(_("Done: %(count)s new transaction(s).", count=result.new))
        return [
            {
                "ponto_id": a.ponto_id,
                "account": a.account,
                "new": a.new,
                "skipped": a.skipped,
                "deleted": a.deleted,
                "error": a.error,
                "notes": list(a.notes),
                "summary": a.summary(),
            }
            for a in result.accounts
        ]

    return work
