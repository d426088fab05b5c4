"""What bean-ponto remembers between runs, beside the output file.

Two files live in ``.bean-ponto/`` next to the output ledger file:

* ``<output>.ids`` — every ``ponto_id`` (and balance key) ever written, one
  per line, append-only. An id listed here is never written again, even if the
  user deleted its entry from the ledger ("deleted stays deleted").
* ``<output>.state.json`` — small, rewritten atomically: per-account status
  (:class:`~beancount_ponto.state_schema.AccountState`), the runner's record,
  the history of the last runs, and ``pending``: the ids of a batch being
  written. Its schema, versions and migration are in
  :mod:`beancount_ponto.state_schema`; nothing else reads a key of it.

Write protocol (under the writer lock): save ``pending``; replace the output
file atomically (with the batch appended and, for a late batch, the balance
assertions it breaks commented out); append the ids to the log; clear ``pending``. A crash
between these steps is repaired by :meth:`SyncState.recover`: the pending ids
that made it into the output file are logged, the others are dropped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from beancount_ponto.errors import LedgerError
from beancount_ponto.fileutil import atomic_write_text
from beancount_ponto.jsonread import SchemaError
from beancount_ponto.ledger import ids_in_file, state_dir
from beancount_ponto.state_runs import RunnerState, RunRecord
from beancount_ponto.state_schema import SCHEMA_VERSION, AccountState, migrate

if TYPE_CHECKING:
    from pathlib import Path

    from beancount_ponto.ledger import IncludeCache

MAX_RUNS = 50
#: How much of the ids log's end is read to find a line a crash tore (longer than any id).
_TAIL_BYTES = 4096


@dataclass
class SyncState:
    """The state of one output file. Load with :meth:`load`, persist with :meth:`save`."""

    output: Path
    accounts: dict[str, AccountState] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    runner: RunnerState = field(default_factory=RunnerState)
    #: :func:`~beancount_ponto.ledger.ledger_files`' cache of each file's includes.
    includes: IncludeCache = field(default_factory=dict)
    #: An older version asked for the balance assertions to be rechecked.
    recheck_balances: bool = False
    _ids: set[str] | None = None

    @property
    def state_path(self) -> Path:
        """The JSON state file."""
        return state_dir(self.output) / f"{self.output.name}.state.json"

    @property
    def ids_path(self) -> Path:
        """The append-only log of written ids."""
        return state_dir(self.output) / f"{self.output.name}.ids"

    @classmethod
    def load(cls, output: Path) -> SyncState:
        """Read the state of ``output`` (empty when there is none yet).

        Raises:
            LedgerError: the file is unreadable, not JSON, or not of the shape
                :meth:`save` writes; the message names it and what moving it
                away forgets.
        """
        state = cls(output=output)
        try:
            raw = json.loads(state.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return state
        except (OSError, ValueError) as exc:
            raise state._bad_state(f"unreadable: {exc}") from None
        if not isinstance(raw, dict):
            raise state._bad_state("not a JSON object")
        try:
            doc = migrate(raw)
            state.accounts = {
                pid: AccountState.from_json(record, f"accounts.{pid}")
                for pid, record in _object(doc, "accounts").items()
            }
            runs = doc.get("runs") or []
            if not isinstance(runs, list):
                raise SchemaError("runs", "a list")
            state.runs = [RunRecord.from_json(r, f"runs[{i}]") for i, r in enumerate(runs)]
            pending = doc.get("pending") or []
            if not isinstance(pending, list) or not all(isinstance(i, str) for i in pending):
                raise SchemaError("pending", "a list of ids")
            state.pending = pending
            if doc.get("runner") is not None:
                state.runner = RunnerState.from_json(doc["runner"])
            state.includes = _object(doc, "includes")
            state.recheck_balances = doc.get("recheck_balances") is True
        except SchemaError as exc:
            raise state._bad_state(str(exc)) from None
        return state

    def _bad_state(self, what: str) -> LedgerError:
        return LedgerError(
            f"{self.state_path} is not a state file bean-ponto can use ({what}); move it "
            "away and run again: a fresh one is started, which forgets each account's "
            "status, the run history and the balances waiting to be asserted (the ledger "
            f"and {self.ids_path.name}, which keeps deleted entries out, are kept)"
        )

    def save(self) -> None:
        """Write the JSON state atomically."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "version": SCHEMA_VERSION,
            "accounts": {pid: record.to_json() for pid, record in self.accounts.items()},
            "runs": [run.to_json() for run in self.runs[-MAX_RUNS:]],
            "pending": self.pending,
            "runner": self.runner.to_json() if self.runner.last_run else None,
            "includes": self.includes,
            "recheck_balances": self.recheck_balances,
        }
        atomic_write_text(self.state_path, json.dumps(doc, indent=1, sort_keys=True) + "\n")

    # -- written ids ------------------------------------------------------

    @property
    def written_ids(self) -> set[str]:
        """Every id bean-ponto ever wrote to this output (loaded on first use).

        A last line a crash tore (no newline at its end, not valid UTF-8) is
        left out: its batch is still pending, and :meth:`recover` logs it again.

        Raises:
            LedgerError: another line is not UTF-8 text (the file is damaged).
        """
        if self._ids is None:
            try:
                raw = self.ids_path.read_bytes()
            except FileNotFoundError:
                raw = b""
            lines = raw.split(b"\n")
            ids: set[str] = set()
            for number, line in enumerate(lines, start=1):
                try:
                    ids.add(line.decode("utf-8"))
                except UnicodeDecodeError:
                    if number == len(lines):  # torn by a crash while it was written
                        continue
                    raise LedgerError(
                        f"{self.ids_path}: line {number} is damaged (not UTF-8 text); delete "
                        "that line and run again. Keep the rest of the file: it is what "
                        "keeps the entries you deleted from being written again"
                    ) from None
            ids.discard("")
            self._ids = ids
        return self._ids

    def log_written(self, ids: list[str]) -> None:
        """Append ``ids`` to the written log and flush it to disk."""
        if not ids:
            return
        self.ids_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.ids_path, "a+b") as handle:
            # A crash may have torn the last line (part of an id of a batch still
            # pending, which recover() logs again): cut it off, never glue onto it.
            size = handle.seek(0, os.SEEK_END)
            if size:
                start = max(0, size - _TAIL_BYTES)
                handle.seek(start)
                tail = handle.read()
                cut = tail.rfind(b"\n")
                if not tail.endswith(b"\n") and (cut >= 0 or start == 0):
                    handle.truncate(start + cut + 1)
            handle.write("".join(f"{i}\n" for i in ids).encode())
            handle.flush()
            os.fsync(handle.fileno())
        self.written_ids.update(ids)

    def begin_batch(self, ids: list[str]) -> None:
        """Record that ``ids`` are about to be written (step 1 of the protocol)."""
        self.pending = list(ids)
        self.save()

    def end_batch(self) -> None:
        """Log the pending ids as written and clear them (last step)."""
        self.log_written(self.pending)
        self.pending = []
        self.save()

    def recover(self) -> None:
        """Finish a batch a crash interrupted: log the pending ids the output holds."""
        if not self.pending:
            return
        present = ids_in_file(self.output)
        self.log_written([i for i in self.pending if i in present])
        self.pending = []
        self.save()

    # -- per account --------------------------------------------------------

    def account(self, ponto_id: str) -> AccountState:
        """The mutable status record of one Ponto account (created when new)."""
        return self.accounts.setdefault(ponto_id, AccountState())

    def known(self, ponto_id: str) -> AccountState:
        """The status record of one Ponto account, or an empty one (not added)."""
        return self.accounts.get(ponto_id) or AccountState()

    def add_run(self, run: RunRecord) -> None:
        """Remember one run's outcome (the last 50 are kept)."""
        self.runs.append(run)
        del self.runs[:-MAX_RUNS]


def _object(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise SchemaError(key, "an object")
    return value
