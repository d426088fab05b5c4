"""Reading what a ledger already holds, and appending to it safely.

Reading is textual, not a full Beancount parse, so that an hourly run costs a
fraction of ``bean-check``:

* :func:`ledger_files` follows ``include`` directives (relative paths and
  globs) from the main file.
* :func:`scan_ledger` collects every ``ponto_id:`` / ``ponto_balance:``
  metadata value and every opened account (with the currencies its ``open``
  allows) in those files, wherever the user moved the entries.

Writing goes only to the output file, through :func:`append_text`: the new
content is written to a temporary file and renamed over the output, so a
crash at any moment leaves either the old or the new file, both valid.
:func:`writer_lock` is the one inter-process lock every writer (CLI, runner,
Fava) takes around a whole run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import glob
import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from beancount_ponto.errors import LedgerError, LockTimeoutError
from beancount_ponto.fileutil import atomic_append_text, atomic_write_text

if TYPE_CHECKING:
    from collections.abc import Iterator

_INCLUDE_RE = re.compile(r'^include[ \t]+"([^"\n]+)"', re.MULTILINE)
# A Beancount string: ``\"`` and ``\\`` stand for ``"`` and ``\``.
_ID_RE = re.compile(r'^[ \t]+ponto_(?:id|balance):[ \t]*"((?:[^"\\\n]|\\.)+)"', re.MULTILINE)
_WITHDRAWN_RE = re.compile(r'^;[ \t]+ponto_balance:[ \t]*"((?:[^"\\\n]|\\.)+)"', re.MULTILINE)
_ESCAPE_RE = re.compile(r"\\(.)")
_OPEN_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ \t]+open[ \t]+([^\s;]+)([^\n;\"]*)", re.MULTILINE)
_CURRENCY_SPLIT_RE = re.compile(r"[\s,]+")
_CLOSE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ \t]+close[ \t]+([^\s;]+)", re.MULTILINE)

OUTPUT_HEADER = (
    ";; -*- mode: beancount -*-\n"
    ";; Bank transactions appended by bean-ponto from Ponto.\n"
    ";; Edit, recategorise, move or delete entries freely: bean-ponto never writes\n"
    ";; a ponto_id twice and does not bring back entries you deleted.\n"
)
STATE_DIR_NAME = ".bean-ponto"
log = logging.getLogger("beancount_ponto.ledger")


@dataclass(frozen=True)
class LockHolder:
    """Who holds the writer lock, written beside it so a waiting writer can say."""

    pid: int
    command: str
    since: str

    def describe(self) -> str:
        """``pid 4242 (bean-ponto run --every 1h) since 2026-11-20T10:00:00+00:00``."""
        return f"pid {self.pid} ({self.command}) since {self.since}"

    @classmethod
    def current(cls) -> LockHolder:
        """This process."""
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
        return cls(
            os.getpid(), command[:200], dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        )

    @classmethod
    def read(cls, path: Path) -> LockHolder | None:
        """The holder recorded in ``path``; None if unknown or unreadable."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(raw["pid"]), str(raw["command"]), str(raw["since"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _ids(pattern: re.Pattern[str], text: str) -> set[str]:
    """The string values ``pattern`` finds in ``text``, unescaped."""
    return {_ESCAPE_RE.sub(r"\1", value) for value in pattern.findall(text)}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise LedgerError(f"cannot read {path}: {exc.strerror}") from None


IncludeCache = dict[str, list[Any]]


def _includes(path: Path, cache: IncludeCache | None) -> list[str]:
    """The include patterns of one file, from ``cache`` when the file is unchanged."""
    stat = path.stat()
    stamp = [stat.st_mtime_ns, stat.st_size]
    key = str(path)
    if cache is not None and key in cache and cache[key][:2] == stamp:
        return list(cache[key][2])
    patterns = _INCLUDE_RE.findall(_read(path))
    if cache is not None:
        cache[key] = [*stamp, patterns]
    return patterns


def ledger_files(
    main: Path, *, with_missing: bool = False, cache: IncludeCache | None = None
) -> list[Path]:
    """The main file and every file it includes, recursively, each once, in order.

    Args:
        main: the main ledger file.
        with_missing: also list included files that do not exist (yet); by
            default they are left out (``bean-check`` reports them).
        cache: include patterns per file, keyed by path with the file's
            mtime and size; unchanged files are not read again (so an idle run
            does not read a large ledger). Updated in place.

    Raises:
        LedgerError: if the main file does not exist.
    """
    if not main.is_file():
        raise LedgerError(f"ledger {main} does not exist")
    result: list[Path] = []
    seen: set[Path] = set()
    todo = [main.resolve()]
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        result.append(path)
        if not path.is_file():
            continue
        for pattern in _includes(path, cache):
            full = Path(pattern).expanduser()
            if not full.is_absolute():
                full = path.parent / full
            matches = sorted(glob.glob(str(full))) if glob.has_magic(str(full)) else [str(full)]
            todo.extend(Path(m).resolve() for m in matches if with_missing or Path(m).is_file())
    if cache is not None:
        for key in set(cache) - {str(p) for p in seen}:
            del cache[key]
    return result


@dataclass
class LedgerScan:
    """What the ledger files hold that matters to bean-ponto."""

    files: list[Path]
    ids: set[str] = field(default_factory=set)
    withdrawn: set[str] = field(default_factory=set)  # balance keys commented out by us
    opened_on: dict[str, dt.date] = field(default_factory=dict)
    closed_on: dict[str, dt.date] = field(default_factory=dict)
    #: the currencies an account's (earliest) ``open`` lists; absent = any currency
    currencies: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def open_accounts(self) -> set[str]:
        """Every account an ``open`` directive names."""
        return set(self.opened_on)


def scan_ledger(main: Path, extra: Path | None = None, *, skip: Path | None = None) -> LedgerScan:
    """Collect Ponto ids and opened accounts from the ledger's files.

    Args:
        main: the main ledger file.
        extra: a file to scan even if the ledger does not include it (the output).
        skip: a (resolved) file not to read, even if included (the pending file).
    """
    files = ledger_files(main)
    scan = LedgerScan(files=list(files))
    to_read = [f for f in files if f != skip]
    if extra is not None and extra.resolve() not in files and extra.exists():
        to_read.append(extra.resolve())
    for path in to_read:
        text = _read(path)
        scan.ids.update(_ids(_ID_RE, text))
        scan.withdrawn.update(_ids(_WITHDRAWN_RE, text))
        for day, account, rest in _OPEN_RE.findall(text):
            with contextlib.suppress(ValueError):  # bean-check reports bad dates
                date = dt.date.fromisoformat(day)
                if date <= scan.opened_on.get(account, date):
                    scan.opened_on[account] = date
                    listed = frozenset(c for c in _CURRENCY_SPLIT_RE.split(rest) if c)
                    if listed:
                        scan.currencies[account] = listed
                    else:
                        scan.currencies.pop(account, None)
        for day, account in _CLOSE_RE.findall(text):
            with contextlib.suppress(ValueError):
                date = dt.date.fromisoformat(day)
                scan.closed_on[account] = min(date, scan.closed_on.get(account, date))
    return scan


def ids_in_file(path: Path) -> set[str]:
    """The ``ponto_id`` / ``ponto_balance`` values written in one file."""
    return _ids(_ID_RE, _read(path))


def state_dir(output: Path) -> Path:
    """The folder beside the output file that holds bean-ponto's state and lock."""
    return output.parent / STATE_DIR_NAME


@contextlib.contextmanager
def writer_lock(output: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold the lock serialising every writer of ``output`` (CLI, runner, Fava).

    The lock is a file in the state folder, locked with ``flock`` through the
    ``filelock`` library: it is released by the OS if the process dies. The
    holder writes a :class:`LockHolder` to ``<lock>.holder``; a writer that
    finds the lock taken logs at once (warning) that it waits, and for whom.

    Raises:
        LockTimeoutError: another writer kept it for ``timeout`` seconds.
    """
    folder = state_dir(output)
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / f"{output.name}.lock"
    holder_path = folder / f"{output.name}.lock.holder"
    lock = filelock.FileLock(str(lock_path), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        holder = LockHolder.read(holder_path)
        who = holder.describe() if holder else "another bean-ponto run (CLI, scheduler or Fava)"
        log.warning("waiting up to %ds for the ledger's writer lock, held by %s", timeout, who)
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockTimeoutError(
                f"{who} is writing this ledger (lock {lock_path}); try again in a moment"
            ) from None
    try:
        with contextlib.suppress(OSError):  # only informative: no fsync, a torn read is "unknown"
            holder_path.write_text(json.dumps(dataclasses.asdict(LockHolder.current())), "utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            holder_path.unlink()
        lock.release()


def create_output(output: Path, options: str = "") -> None:
    """Create the output file with its header (so an ``include`` of it is valid).

    ``options`` (:func:`~beancount_ponto.ledger_options.root_options`) follow
    the header, so entries under renamed roots parse.
    """
    try:
        atomic_write_text(output, OUTPUT_HEADER + options)
    except OSError as exc:
        raise LedgerError(f"cannot write {output}: {exc.strerror or exc}") from None


#: How much of the output's head :func:`ensure_options` reads: the options sit at its top.
_HEAD_BYTES = 8192


def ensure_options(output: Path, options: str) -> bool:
    """Make the existing ``output`` carry ``options`` at its top; True when it was rewritten.

    Only the file's head is read on the usual run (the lines are there); a file
    written before the ledger renamed its roots gets them inserted after its
    leading comments, in one atomic replacement, everything else unchanged.

    Raises:
        LedgerError: if the file cannot be read or written.
    """
    if not options:
        return False
    try:
        with output.open("rb") as handle:
            head = handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")
        if all(line in head.splitlines() for line in options.splitlines()):
            return False
        text = output.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        top = 0
        while top < len(lines) and lines[top].startswith(";"):
            top += 1
        atomic_write_text(output, "".join(lines[:top]) + options + "".join(lines[top:]))
    except OSError as exc:
        raise LedgerError(f"cannot write {output}: {exc.strerror or exc}") from None
    return True


def append_text(output: Path, text: str) -> None:
    """Append ``text`` (whole entries) to ``output`` atomically; create it with a header.

    Memory stays flat in the size of the output file.

    Raises:
        LedgerError: if the file cannot be written.
    """
    try:
        if not output.exists():
            atomic_write_text(output, OUTPUT_HEADER)
        atomic_append_text(output, "\n" + text.rstrip("\n") + "\n")
    except OSError as exc:
        raise LedgerError(f"cannot write {output}: {exc.strerror or exc}") from None
