"""``bean-ponto run``: the unattended, scheduled sync.

Contract:

* Runs one sync at start, then every ``--every`` (``90s``, ``15m``, ``1h``;
  default ``1h``) on the ``schedule`` library, for all linked accounts,
  through the same locked, crash-safe :func:`~beancount_ponto.sync.run_sync`
  as ``bean-ponto sync``. It never creates Ponto synchronizations.
* A failing run (network, Ponto, expired consent, a ledger being written by
  someone else) is logged and retried at the next tick; the loop never dies of
  it. Failures are remembered (``failing since``) for ``status`` and Fava.
* SIGTERM and Ctrl-C stop it between writes; it then exits 0.
* Logs: one line per run per account to standard error and, with
  ``--log-file``, to that file. Secrets are never logged.
* Consent watch: while a consent expires within ``consent_warning_days``
  every run warns, and ``notify_command`` (if configured) is run once a day
  with the message as its last argument and in ``BEAN_PONTO_MESSAGE``.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import subprocess
import threading
from typing import TYPE_CHECKING, Any

import schedule

from beancount_ponto.errors import PontoError
from beancount_ponto.fetch import make_client
from beancount_ponto.ledger import writer_lock
from beancount_ponto.state import SyncState, now_utc, to_iso
from beancount_ponto.status import link_statuses
from beancount_ponto.sync import SyncOptions, run_sync

if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from types import FrameType

    from beancount_ponto.client import PontoClient
    from beancount_ponto.config import Config

log = logging.getLogger("beancount_ponto.runner")

_DURATION_RE = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h)?\s*$")
_UNIT_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
RUNNER_KEY = "runner"


def parse_duration(text: str) -> int:
    """Seconds in ``90s``, ``15m`` or ``1h`` (a bare number is seconds).

    Raises:
        ValueError: for anything else or a zero duration.
    """
    match = _DURATION_RE.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 15m or 1h")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class Runner:
    """Runs sync ticks and remembers how they went.

    Args:
        config: the configuration.
        ledger: the main ledger.
        output: the file to append to.
        lock_timeout: seconds to wait for another writer before skipping a tick.
    """

    def __init__(
        self, config: Config, ledger: Path, output: Path, lock_timeout: float = 30.0
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.output = output
        self.lock_timeout = lock_timeout
        self.stop_event = threading.Event()
        self._client: PontoClient | None = None

    def _remember(self, error: str | None) -> None:
        """Record the tick's global outcome in the state (under the writer lock)."""
        with writer_lock(self.output, self.lock_timeout):
            state = SyncState.load(self.output)
            record: dict[str, Any] = state.extra.setdefault(RUNNER_KEY, {})
            record["last_tick"] = to_iso(now_utc())
            if error:
                record.setdefault("failing_since", record["last_tick"])
                record["last_error"] = error
            else:
                record.pop("failing_since", None)
                record.pop("last_error", None)
            state.save()

    def tick(self) -> bool:
        """One run; never raises. Returns True when every account succeeded."""
        try:
            if self._client is None:
                self._client = make_client(self.config)
            result = run_sync(
                self.config,
                self._client,
                ledger=self.ledger,
                output=self.output,
                options=SyncOptions(
                    source="runner",
                    lock_timeout=self.lock_timeout,
                    should_stop=self.stop_event.is_set,
                ),
            )
        except PontoError as exc:
            log.error("run failed: %s", exc)
            self._safe_remember(str(exc))
            return False
        except Exception as exc:
            log.exception("run failed unexpectedly: %s", exc.__class__.__name__)
            self._safe_remember(f"unexpected {exc.__class__.__name__}: {exc}")
            return False
        failing = None
        for item in result.accounts:
            if item.error:
                log.error("%s", item.summary())
                failing = failing or item.error
            else:
                log.info("%s", item.summary())
        if not result.included:
            log.warning(
                'the ledger does not include %s; add `include "%s"`', self.output, self.output.name
            )
        self._safe_remember(failing)
        self.consent_watch()
        return result.ok

    def _safe_remember(self, error: str | None) -> None:
        try:
            self._remember(error)
        except PontoError as exc:
            log.warning("could not record the run: %s", exc)

    def consent_watch(self) -> None:
        """Warn about consents expiring soon; notify once a day."""
        state = SyncState.load(self.output)
        messages = [
            f"{s.account}: {s.consent.describe()}"
            for s in link_statuses(self.config, state, None, now_utc())
            if s.consent.state in ("expiring", "expired")
        ]
        if not messages:
            return
        for message in messages:
            log.warning("%s", message)
        command = self.config.notify_command
        today = now_utc().astimezone().date().isoformat()
        if not command or state.extra.get("notified_on") == today:
            return
        text = "bean-ponto: " + "; ".join(messages)
        try:
            subprocess.run(
                [*shlex.split(command), text],
                check=False,
                timeout=60,
                env={**os.environ, "BEAN_PONTO_MESSAGE": text},
            )
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("notify_command failed: %s", exc)
            return
        with writer_lock(self.output, self.lock_timeout):
            state = SyncState.load(self.output)
            state.extra["notified_on"] = today
            state.save()

    def loop(self, every: int) -> None:
        """Tick now, then every ``every`` seconds, until :attr:`stop_event` is set."""
        scheduler = schedule.Scheduler()
        scheduler.every(every).seconds.do(self.tick)
        self.tick()
        while not self.stop_event.is_set():
            scheduler.run_pending()
            idle = scheduler.idle_seconds
            self.stop_event.wait(max(0.05, min(idle if idle is not None else 1.0, 1.0)))


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """The ``run`` command."""
    every = parse_duration(args.every)
    ledger = config.ledger_path(args.ledger)
    output = config.output_path(ledger, args.output)
    if args.log_file:
        handler = logging.FileHandler(args.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("beancount_ponto").addHandler(handler)
    logging.getLogger("beancount_ponto").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    runner = Runner(config, ledger, output)
    if args.once:
        ok = runner.tick()
        if not ok:
            state = SyncState.load(output).extra.get(RUNNER_KEY, {})
            log.error("failing since %s", state.get("failing_since", to_iso(now_utc())))
        return 0 if ok else 1

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after the current write", signal.Signals(signum).name)
        runner.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("bean-ponto run: syncing %s every %s", output, args.every)
    runner.loop(every)
    log.info("stopped")
    return 0


def add_parser(sub: Any) -> None:
    """Register the ``run`` command."""
    p = sub.add_parser("run", help="sync now and then on a schedule, unattended")
    p.add_argument("--ledger", help="main ledger file (default: from the config)")
    p.add_argument("--output", help="file to append to (default: ponto.beancount beside it)")
    p.add_argument("--every", default="1h", help="interval: 90s, 15m, 1h (default 1h)")
    p.add_argument("--once", action="store_true", help="one run; exit 1 if it failed")
    p.add_argument("--log-file", help="also log to this file")
    p.set_defaults(func=cmd_run)


__all__ = ["Runner", "add_parser", "cmd_run", "parse_duration"]
