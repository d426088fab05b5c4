"""``bean-ponto run``: the unattended, scheduled sync.

This module is the command; the engine is :mod:`beancount_ponto.runner`.

Contract:

* ``bean-ponto run [--ledger MAIN] [--output FILE] [--every DURATION] [--once]
  [--log-file FILE]``: a sync now, then every DURATION (``90s``, ``15m``,
  ``1h``, ``1h30m``; default ``1h``), for all linked accounts, through the same
  locked, crash-safe writer as ``bean-ponto sync``. It never creates Ponto
  synchronizations. A failing run is logged and retried at the next tick; the
  loop never dies of it.
* ``--once``: one run; exit 0 when it went well (or was stopped by a signal),
  1 when it failed (the last line says ``failing since ...``) or was skipped
  because another writer kept the ledger locked.
* SIGTERM and Ctrl-C stop it between writes and it exits 0; a second signal
  stops at once (still safe: writes are atomic, batches are recovered).
* Logs: one line per run per account (new, skipped, errors) to standard error
  and, with ``--log-file``, appended to that file; ``--verbose`` adds detail.
  Secrets are never logged; :class:`RedactSecrets` also masks the client
  secret and bearer tokens in every record, as a safety net.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import threading
from typing import TYPE_CHECKING, Any

from beancount_ponto.credentials import resolve_credentials
from beancount_ponto.errors import PontoError
from beancount_ponto.runner import Runner, TickReport
from beancount_ponto.timeutil import now_utc, to_iso

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import FrameType

    from beancount_ponto.config import Config
    from beancount_ponto.state import SyncState

log = logging.getLogger("beancount_ponto.runner")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DURATION_RE = re.compile(r"(\d+)\s*(hours?|h|minutes?|min|m|seconds?|sec|s)\s*", re.IGNORECASE)
_UNITS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds in ``90s``, ``15m``, ``1h`` or ``1h30m``: every number needs its unit.

    Raises:
        ValueError: for anything else (a bare ``5``: seconds or minutes?), or a zero duration.
    """
    rest, total = text.strip(), 0
    if rest.isdigit():
        raise ValueError(
            f"invalid duration {text!r}: give a unit, e.g. {rest}m for minutes or {rest}s"
        )
    while rest:
        match = _DURATION_RE.match(rest)
        if not match:
            break
        unit = (match.group(2) or "s")[0].lower()
        total += int(match.group(1)) * _UNITS[unit]
        rest = rest[match.end() :]
    if rest or not text.strip() or total <= 0:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 15m or 1h")
    return total


def format_duration(seconds: int) -> str:
    """``5400`` -> ``1h30m``; the inverse of :func:`parse_duration`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def status_lines(state: SyncState) -> list[str]:
    """What ``bean-ponto status`` says about the scheduled runner (empty if it never ran)."""
    record = state.runner
    if record.last_run is None:
        return []
    every = record.every_seconds
    how = f"every {format_duration(every)}" if every else "with --once"
    success = to_iso(record.health.last_success) or "never"
    lines = [
        f"Scheduled runner ({how}): last run {to_iso(record.last_run)} "
        f"({record.last_outcome or '?'}); last success {success}"
    ]
    if record.health.failing_since:
        runs = record.health.failures or 1
        lines.append(
            f"  FAILING since {to_iso(record.health.failing_since)} ({runs} failed run"
            f"{'s' if runs != 1 else ''} in a row): {record.health.last_error or ''}"
        )
    return lines


class RedactSecrets(logging.Filter):
    """Masks secrets in log records, as a safety net (nothing should log them).

    Args:
        secrets: strings to mask (the client secret); bearer tokens are always masked.
    """

    _TOKEN_RE = re.compile(r"(Bearer\s+|access_token\W{1,4})[A-Za-z0-9._~+/=-]{8,}")

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._formatter = logging.Formatter()

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``<hidden>``."""
        for secret in self.secrets:
            text = text.replace(secret, "<hidden>")
        return self._TOKEN_RE.sub(r"\1<hidden>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and traceback) without secrets."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep its parts, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def _setup_logging(args: argparse.Namespace, config: Config) -> Callable[[], None]:
    """Levels, the optional log file and the secret filter; returns the undo."""
    package = logging.getLogger("beancount_ponto")
    old_level = package.level
    package.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    handlers = list(logging.getLogger().handlers)
    file_handler = None
    if args.log_file:
        try:
            file_handler = logging.FileHandler(args.log_file, encoding="utf-8")
        except OSError as exc:
            package.setLevel(old_level)
            raise PontoError(f"cannot open the log file {args.log_file}: {exc.strerror}") from None
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        package.addHandler(file_handler)
        handlers.append(file_handler)
    secrets = [os.environ.get("PONTO_CLIENT_SECRET", "")]
    with contextlib.suppress(PontoError):  # no credentials yet: every run will say so
        secrets.append(resolve_credentials(config).client_secret)
    redact = RedactSecrets(secrets)
    for handler in handlers:
        handler.addFilter(redact)

    def undo() -> None:
        for handler in handlers:
            handler.removeFilter(redact)
        if file_handler is not None:
            package.removeHandler(file_handler)
            file_handler.close()
        package.setLevel(old_level)

    return undo


def _install_signals(runner: Runner) -> Callable[[], None]:
    """SIGTERM/SIGINT stop between writes; a second one stops at once. Returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if runner.stop_event.is_set():
            raise KeyboardInterrupt
        log.info("%s received: stopping after the current write", name)
        runner.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def undo() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return undo


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """The ``run`` command: ``--once``, or a sync now and then every ``--every``."""
    ledger = config.ledger_path(args.ledger)
    output = config.output_path(ledger, args.output)
    undo_logging = _setup_logging(args, config)
    runner = Runner(config, ledger, output, every=None if args.once else args.every)
    undo_signals = _install_signals(runner)
    try:
        if args.once:
            report = runner.tick()
            if report.outcome == "failed":
                since = to_iso(report.failing_since or now_utc())
                log.error("failing since %s: %s", since, report.message)
            return 0 if report.ok else 1
        log.info(
            "syncing %s now and every %s; stop with Ctrl-C or SIGTERM",
            output,
            format_duration(args.every),
        )
        runner.loop()
        log.info("stopped")
        return 0
    finally:
        undo_signals()
        runner.close()
        undo_logging()


def _duration_arg(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: Any) -> None:
    """Register the ``run`` command on the ``bean-ponto`` subparsers."""
    p = sub.add_parser("run", help="sync now and then on a schedule, unattended")
    p.add_argument("--ledger", help="main ledger file (default: from the config)")
    p.add_argument("--output", help="file to append to (default: ponto.beancount beside it)")
    p.add_argument(
        "--every",
        type=_duration_arg,
        default=3600,
        metavar="DURATION",
        help="interval: 90s, 15m, 1h, 1h30m (default 1h)",
    )
    p.add_argument("--once", action="store_true", help="one run; exit 1 if it failed")
    p.add_argument("--log-file", help="also log to this file")
    p.set_defaults(func=cmd_run)


__all__ = [
    "RedactSecrets",
    "Runner",
    "TickReport",
    "add_parser",
    "cmd_run",
    "format_duration",
    "parse_duration",
    "status_lines",
]
