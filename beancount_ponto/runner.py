"""The scheduled runner's engine: :class:`Runner` (used by ``bean-ponto run``).

Contract:

* :meth:`Runner.tick` is one run: the same locked, crash-safe
  :func:`~beancount_ponto.sync.run_sync` as ``bean-ponto sync`` (never with
  ``refresh``: no Ponto synchronization is created), then the consent watch,
  then a record of the outcome. It never raises: a failure (network, Ponto,
  a consent Ponto refuses, config, ledger) becomes a ``failed`` :class:`TickReport`.
  Within one run Ponto requests are retried for at most half the interval.
* Another writer (a second runner, ``bean-ponto sync``, Fava) holding the
  writer lock makes the run wait up to ``lock_timeout`` seconds, polling so
  that :meth:`Runner.stop` still works, then skip with a message.
* :meth:`Runner.stop` (SIGTERM, Ctrl-C) ends the run between writes.
* :meth:`Runner.loop` ticks now, then every ``every`` seconds on the
  ``schedule`` library until stopped; waits are at most one second, so a wall
  clock jump (laptop sleep) triggers the missed run at once, and only once.
* Consent watch: while an account has a warning
  (:meth:`~beancount_ponto.status.LinkStatus.warnings`: a consent expiring
  within ``consent_warning_days``, past its expected expiry or reported revoked
  by Ponto; or data Ponto last refreshed more than 24 hours ago) every run
  warns; ``notify_command`` runs at most once a (local) day with the message as
  last argument and in ``BEAN_PONTO_MESSAGE``, and again the same day when
  Ponto newly reports a consent revoked. A revoked consent does not fail the
  run: what Ponto still serves is written.
* The config file is re-read when it changes (new links are picked up).

State: besides the sync's per-account records, the state's
:class:`~beancount_ponto.state_schema.RunnerState` (in
``.bean-ponto/<output>.state.json``) holds the last tick, its outcome and
message, the failure streak (one :class:`~beancount_ponto.state_schema.Health`,
as for accounts), the interval (None for ``--once``), the pid and the last
consent notification. Skipped runs are not recorded (the lock they lacked
guards the state).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import schedule

from beancount_ponto.config import load_config
from beancount_ponto.credentials import client_for
from beancount_ponto.errors import LockTimeoutError, PontoError
from beancount_ponto.ledger import writer_lock
from beancount_ponto.state import SyncState
from beancount_ponto.status import link_statuses
from beancount_ponto.sync import SyncOptions, SyncResult, run_sync
from beancount_ponto.timeutil import now_utc, to_iso

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable
    from pathlib import Path

    from beancount_ponto.config import Config
    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.state_runs import TickOutcome

log = logging.getLogger("beancount_ponto.runner")

MESSAGE_ENV = "BEAN_PONTO_MESSAGE"
NOTIFY_TIMEOUT = 60.0
DEFAULT_EVERY = 3600


@dataclass
class TickReport:
    """How one run went.

    Attributes:
        outcome: ``ok``, ``failed``, ``skipped`` (another writer kept the lock)
            or ``stopped`` (SIGTERM/Ctrl-C before the end; what was written stays).
        message: one line for people.
        result: the sync result, when the sync ran.
        failing_since: for a failed run, since when runs fail.
    """

    outcome: TickOutcome
    message: str
    result: SyncResult | None = None
    failing_since: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        """True unless the run failed or was skipped."""
        return self.outcome in ("ok", "stopped")


class Runner:
    """Runs sync ticks, remembers how they went and watches consents.

    Args:
        config: the configuration (re-read from its file when that changes).
        ledger: the main ledger.
        output: the file to append to.
        every: the interval in seconds (None for ``--once``); bounds retries.
        lock_timeout: seconds to wait for another writer before skipping a run.
        clock: the current time, aware (tests move it).
        client_factory: makes a Ponto client from the config.
    """

    def __init__(
        self,
        config: Config,
        ledger: Path,
        output: Path,
        *,
        every: int | None = None,
        lock_timeout: float = 60.0,
        clock: Callable[[], dt.datetime] = now_utc,
        client_factory: Callable[[Config], PontoClient] = client_for,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.output = output
        self.every = every
        self.lock_timeout = lock_timeout
        self.clock = clock
        self.client_factory = client_factory
        self.stop_event = threading.Event()
        self._client: PontoClient | None = None
        self._config_mtime = _mtime(config.path)
        self._notified: Notified | None = None

    # -- one run ------------------------------------------------------------

    def stop(self) -> None:
        """Ask the current run to stop between writes, and the loop to end."""
        self.stop_event.set()

    def close(self) -> None:
        """Close the Ponto client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def tick(self) -> TickReport:
        """One run, then the consent watch; never raises (a second signal aside)."""
        started = self.clock()
        try:
            report = self._sync()
        except PontoError as exc:
            report = TickReport("failed", str(exc))
        except Exception as exc:
            log.exception("run failed unexpectedly")
            report = TickReport("failed", f"unexpected {exc.__class__.__name__}: {exc}")
        if report.outcome == "failed":
            self.close()  # fresh credentials and connections next time
            if report.result is None:
                log.error("run failed: %s", report.message)
        try:
            self.consent_watch()
        except Exception:
            log.exception("the consent watch failed")
        if report.outcome != "skipped":
            self._remember(report, started)
        return report

    def _sync(self) -> TickReport:
        self._reload_config()
        if self.stop_event.is_set():
            return TickReport("stopped", "stopped before the run")
        client = self._get_client()
        if not self._wait_for_writer():
            if self.stop_event.is_set():
                return TickReport("stopped", "stopped while waiting for another writer")
            return self._skipped()
        try:
            result = run_sync(
                self.config,
                client,
                ledger=self.ledger,
                output=self.output,
                options=SyncOptions(
                    source="runner",
                    # Free a moment ago: only a writer that sneaked in can make this wait.
                    lock_timeout=min(self.lock_timeout, 10.0),
                    should_stop=self.stop_event.is_set,
                ),
            )
        except LockTimeoutError:
            return self._skipped()
        for item in result.accounts:
            level = log.error if item.error else log.warning if item.refusal else log.info
            level("%s", item.summary())
        if not result.included:
            log.warning(
                'the ledger does not include %s: add `include "%s"` to %s',
                self.output,
                self.output.name,
                self.ledger,
            )
        failed = [a for a in result.accounts if a.error]
        if failed:
            if len(failed) > 1 and len({a.error for a in failed}) == 1:
                message = f"{', '.join(a.account for a in failed)}: FAILED: {failed[0].error}"
            else:
                message = "; ".join(a.summary() for a in failed)
            return TickReport("failed", message, result)
        if result.stopped or self.stop_event.is_set():
            return TickReport("stopped", "stopped on request; the rest follows next run", result)
        return TickReport("ok", f"{result.new} new", result)

    def _skipped(self) -> TickReport:
        message = (
            f"skipped: another bean-ponto writer (sync, runner or Fava) kept {self.output} "
            f"locked for {self.lock_timeout:g} s; trying again at the next run"
        )
        log.warning("%s", message)
        return TickReport("skipped", message)

    def _reload_config(self) -> None:
        """Re-read the config file if it changed since it was read (raises ConfigError)."""
        mtime = _mtime(self.config.path)
        if mtime == self._config_mtime:
            return
        self.config = load_config(self.config.path)
        self._config_mtime = mtime
        self.close()
        log.info("re-read %s", self.config.path)

    def _get_client(self) -> PontoClient:
        if self._client is None:
            client = self.client_factory(self.config)
            client.sleep = self._sleep
            if self.every:
                client.max_retry_seconds = min(client.max_retry_seconds, self.every / 2)
            self._client = client
        return self._client

    def _sleep(self, seconds: float) -> None:
        """Retry back-off that ends early when asked to stop."""
        self.stop_event.wait(seconds)

    def _wait_for_writer(self) -> bool:
        """Wait until no other writer holds the lock (polling, so SIGTERM still works)."""
        deadline = time.monotonic() + self.lock_timeout
        announced = False
        while True:
            try:
                with writer_lock(self.output, 0):
                    return True
            except LockTimeoutError:
                pass
            if not announced:
                log.info("another bean-ponto writer is busy with %s; waiting", self.output)
                announced = True
            if time.monotonic() >= deadline or self.stop_event.wait(0.2):
                return False

    # -- state --------------------------------------------------------------

    def _remember(self, report: TickReport, started: dt.datetime) -> None:
        """Record the run in the state's runner record; set ``report.failing_since``."""
        try:
            with writer_lock(self.output, 1.0 if report.outcome == "stopped" else 10.0):
                state = SyncState.load(self.output)
                record = state.runner
                record.ticked(started.replace(microsecond=0), report.outcome, report.message)
                record.every_seconds, record.pid = self.every, os.getpid()
                if self._notified:
                    record.consent_notified_on = self._notified.day
                    record.consent_notified_revoked = list(self._notified.revoked)
                state.save()
        except (PontoError, OSError) as exc:
            log.warning("could not record this run in the state: %s", exc)
        if report.outcome == "failed":
            try:
                since = _failing_since(SyncState.load(self.output), report)
            except PontoError:
                since = None
            report.failing_since = since or started

    # -- consent watch --------------------------------------------------------

    def consent_watch(self) -> list[str]:
        """Warn about each account's warnings (consent, stale data); notify once a day.

        A consent Ponto newly reports revoked notifies again the same day.

        Returns:
            the warnings, one per account and problem.
        """
        now = self.clock()
        state = SyncState.load(self.output)
        statuses = link_statuses(self.config, state, None, now)
        messages = [f"{s.account}: {w}" for s in statuses for w in s.warnings(now)]
        for message in messages:
            log.warning("%s", message)
        today = now.astimezone().date().isoformat()
        revoked = tuple(sorted(s.ponto_id for s in statuses if s.consent.state == "revoked"))
        before = self._notified or Notified(
            state.runner.consent_notified_on, tuple(state.runner.consent_notified_revoked)
        )
        due = before.day != today or not set(revoked) <= set(before.revoked)
        if messages and self.config.notify_command and due:
            self._notified = Notified(today, revoked)
            self._notify("bean-ponto: " + "; ".join(messages))
        return messages

    def _notify(self, text: str) -> None:
        """Run ``notify_command`` with ``text``; failures are logged, never raised."""
        assert self.config.notify_command
        try:
            done = subprocess.run(
                [*shlex.split(self.config.notify_command), text],
                check=False,
                timeout=NOTIFY_TIMEOUT,
                env={**os.environ, MESSAGE_ENV: text},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            log.warning("notify_command failed: %s", exc)
            return
        if done.returncode:
            log.warning("notify_command exited with status %d", done.returncode)
        else:
            log.info("notify_command called")

    # -- the loop ---------------------------------------------------------------

    def loop(self) -> None:
        """Tick now, then every :attr:`every` seconds, until :meth:`stop`."""
        every = self.every or DEFAULT_EVERY
        self._report_failure(self.tick())
        scheduler = schedule.Scheduler()
        scheduler.every(every).seconds.do(lambda: self._report_failure(self.tick()))
        while not self.stop_event.is_set():
            scheduler.run_pending()
            idle = scheduler.idle_seconds
            # Short waits: a wall-clock jump (laptop sleep) is noticed within a second.
            self.stop_event.wait(min(max(idle if idle is not None else 1.0, 0.05), 1.0))

    def _report_failure(self, report: TickReport) -> None:
        if report.outcome == "failed" and report.failing_since:
            log.warning(
                "failing since %s; trying again in %d s",
                to_iso(report.failing_since),
                self.every or DEFAULT_EVERY,
            )


@dataclass(frozen=True)
class Notified:
    """The last consent notification: its (local) day and the revoked accounts it named."""

    day: str | None = None
    revoked: tuple[str, ...] = ()


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _failing_since(state: SyncState, report: TickReport) -> dt.datetime | None:
    """The earliest failure time of the runner and of the accounts failing now."""
    stamps = [state.runner.health.failing_since]
    if report.result is not None:
        stamps += [
            state.known(a.ponto_id).health.failing_since for a in report.result.accounts if a.error
        ]
    found = [s for s in stamps if s is not None]
    return min(found) if found else None


__all__ = ["DEFAULT_EVERY", "MESSAGE_ENV", "Runner", "TickReport"]
