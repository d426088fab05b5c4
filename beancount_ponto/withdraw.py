"""Withdrawing the balance assertions a late transaction breaks, in the same write.

A transaction Ponto delivers late, dated on or before one of our balance
assertions, makes that assertion fail. The ledger must pass ``bean-check`` at
every moment, even after a ``kill -9``, so the batch and the withdrawal are
one atomic replacement of the output file.

Contract:

* :func:`failing_assertions` names the assertions bean-ponto wrote to the
  output file (those with a ``ponto_balance`` key) that the ledger fails once
  a batch is appended: one full load of the ledger as it is, then the batch
  parsed and booked, padding redone and Beancount's own balance check run
  over the whole (the cost of one ``bean-check``, only for batches that hold
  late transactions). Those the user moved to another file are flagged
  (:attr:`Withdrawal.in_output` False): bean-ponto never edits them, so the
  caller must refuse the batch instead (:func:`refusal`).
* :func:`replace_output` reads the file as it is right now, comments out
  exactly the blocks of those assertions, each found by its own key (never
  by a line number), with the reason on the line above, appends the batch,
  and writes it all with one atomic replace (temporary file, fsync, rename).
  If another program (Fava's editor saves in place) changed the file between
  the read and the rename, it starts again from the new content, so the edit
  is kept. Nothing else in the file changes, byte for byte.
* :func:`withdraw_failing` does the same without a batch, for a recheck
  remembered by an older version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from beancount import loader
from beancount.core import data, flags
from beancount.ops import balance as balance_check
from beancount.ops import pad
from beancount.parser import booking, parser

from beancount_ponto.fileutil import FileChangedError, atomic_write, stamp

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable
    from typing import BinaryIO

META_KEY = "ponto_balance"
ENCODING = "utf-8"
ERRORS = "surrogateescape"  # bytes that are not UTF-8 are written back as they were

_KEY_LINE = re.compile(r'^[ \t]+ponto_balance:[ \t]*"((?:[^"\\\n]|\\.)*)"')
_BALANCE_HEAD = re.compile(r"^\d{4}-\d{2}-\d{2}[ \t]+balance[ \t]")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Withdrawal:
    """One of our balance assertions that the ledger fails.

    Attributes:
        key: its ``ponto_balance`` value (``<Ponto account id>/<reference date>``).
        account: the asserted ledger account.
        date: the assertion's date.
        reason: Beancount's message (one line).
        in_output: it is in the output file (else the user moved it elsewhere).
        location: ``file:line`` of the assertion.
    """

    key: str
    account: str
    date: dt.date
    reason: str
    in_output: bool = True
    location: str = ""

    @property
    def note(self) -> str:
        """The line written above the commented-out block, and reported."""
        return (
            f"balance assertion of {self.account} on {self.date} withdrawn: a transaction "
            f"delivered later with an older date changed the balance ({self.reason})"
        )


def unescape(value: str) -> str:
    r"""A Beancount string's value from its quoted text (``\"`` and ``\\``)."""
    return _ESCAPE.sub(r"\1", value)


def failing_assertions(ledger: Path, output: Path, batch: str = "") -> list[Withdrawal]:
    """Our assertions in ``output`` that fail once ``batch`` is appended to it.

    Args:
        ledger: the main ledger file (it includes ``output``).
        output: the file bean-ponto writes.
        batch: entries about to be appended (Beancount text); empty: the
            ledger as it is.

    Returns:
        the failing assertions written by bean-ponto (those with a
        ``ponto_balance`` key), in ``output`` or in any other file of the
        ledger (``in_output`` False), in load order.
    """
    entries, errors, options = loader.load_file(str(ledger))
    if batch:
        parsed, _parse_errors, _options = parser.parse_string(batch)
        # booking, pad and balance are not annotated in Beancount 3.2.
        booked, _booking_errors = booking.book(parsed, options)  # type: ignore[no-untyped-call]
        # Padding is redone over the whole, as a load of the new file would.
        kept = [
            e
            for e in entries
            if not (isinstance(e, data.Transaction) and e.flag == flags.FLAG_PADDING)
        ]
        ordered = sorted([*kept, *booked], key=data.entry_sortkey)
        merged, _pad_errors = pad.pad(ordered, options)  # type: ignore[no-untyped-call]
        _entries, errors = balance_check.check(merged, options)  # type: ignore[no-untyped-call]
    target = output.resolve()
    found: dict[str, Withdrawal] = {}
    for error in errors:
        entry = error.entry
        if isinstance(entry, data.Balance) and META_KEY in entry.meta:
            key = str(entry.meta[META_KEY])
            reason = " ".join(str(error.message).split())
            filename = str(entry.meta.get("filename", ""))
            location = f"{filename}:{entry.meta.get('lineno', '?')}"
            in_output = Path(filename).resolve() == target
            found.setdefault(
                key, Withdrawal(key, entry.account, entry.date, reason, in_output, location)
            )
    return list(found.values())


def refusal(withdrawal: Withdrawal, output: Path) -> str:
    """The one-line refusal of a batch that breaks one of our assertions outside ``output``."""
    return (
        f"new transactions change the balance that bean-ponto's assertion of "
        f"{withdrawal.account} on {withdrawal.date} checks, at {withdrawal.location}, "
        f"outside {output.name} where bean-ponto cannot withdraw it ({withdrawal.reason}); "
        "comment out or delete that assertion, then run again "
        "(what was refused is not written and follows then)"
    )


def comment_out(text: str, withdrawals: list[Withdrawal]) -> tuple[str, list[str]]:
    """``text`` with each withdrawn assertion's block commented out, found by its key.

    A block is a ``balance`` line and its indented lines; it is taken only if
    its ``ponto_balance`` line holds the key. Blocks already commented out, or
    no longer in the text, are left alone.

    Returns:
        the new text and one note per assertion commented out.
    """
    by_key = {w.key: w for w in withdrawals}
    lines = text.split("\n")
    blocks: list[tuple[int, int, Withdrawal]] = []
    for index, line in enumerate(lines):
        match = _KEY_LINE.match(line)
        withdrawal = by_key.get(unescape(match.group(1))) if match else None
        if withdrawal is None:
            continue
        start = index
        while start > 0 and lines[start].startswith((" ", "\t")) and lines[start].strip():
            start -= 1
        if not _BALANCE_HEAD.match(lines[start]):
            continue
        end = index + 1
        while end < len(lines) and lines[end].startswith((" ", "\t")) and lines[end].strip():
            end += 1
        blocks.append((start, end, withdrawal))
    notes: list[str] = []
    for start, end, withdrawal in reversed(blocks):
        lines[start:end] = [f"; {withdrawal.note}", *(f"; {line}" for line in lines[start:end])]
        if withdrawal.note not in notes:
            notes.insert(0, withdrawal.note)
    return "\n".join(lines), notes


def replace_output(
    output: Path,
    withdrawals: list[Withdrawal],
    batch: str = "",
    *,
    header: str = "",
    attempts: int = 5,
) -> list[str]:
    """Comment out ``withdrawals`` and append ``batch``, in one atomic replacement.

    Args:
        output: the file to rewrite (followed if it is a symbolic link).
        withdrawals: the assertions to comment out (see :func:`comment_out`).
        batch: whole entries to append after a blank line; may be empty.
        header: the text a missing file starts with.
        attempts: how many times to start again when the file changes meanwhile.

    Returns:
        one note per assertion commented out.

    Raises:
        FileChangedError: the file kept changing for ``attempts`` tries;
            nothing was written.
        OSError: the file cannot be read or written; nothing was written.
    """
    for attempt in range(attempts):
        before = stamp(output)
        try:
            text = output.read_bytes().decode(ENCODING, ERRORS)
        except FileNotFoundError:
            text = header
        new, notes = comment_out(text, withdrawals)
        if batch:
            if new and not new.endswith("\n"):
                new += "\n"
            new += "\n" + batch.rstrip("\n") + "\n"
        if new == text:
            return notes
        try:
            atomic_write(output, _writer(new.encode(ENCODING, ERRORS)), expect=before)
        except FileChangedError:
            if attempt == attempts - 1:
                raise
            continue
        return notes
    return []  # not reached: the last attempt returns or raises


def _writer(content: bytes) -> Callable[[BinaryIO], object]:
    return lambda handle: handle.write(content)


def withdraw_failing(ledger: Path, output: Path) -> list[str]:
    """Comment out our balance assertions in ``output`` that the ledger fails now.

    Returns:
        one note per withdrawn assertion (empty when all hold).

    Raises:
        OSError: as :func:`replace_output`; nothing was written.
    """
    failing = [w for w in failing_assertions(ledger, output) if w.in_output]
    return replace_output(output, failing) if failing else []
