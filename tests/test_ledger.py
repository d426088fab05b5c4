"""ledger.py on its own: the include walk, the id scan, the state folder, the lock, appends."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import filelock
import pytest

from beancount_ponto.errors import LedgerError, LockTimeoutError
from beancount_ponto.ledger import (
    OUTPUT_HEADER,
    STATE_DIR_NAME,
    append_text,
    ids_in_file,
    ledger_files,
    scan_ledger,
    state_dir,
    writer_lock,
)
from tests.conftest import bean_check

ENTRY = """2025-03-01 * "Bakery" "Bread"
  ponto_id: "{id}"
  Assets:Bank:Checking  -2.50 EUR
  Expenses:Food
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_includes_are_followed_relative_globbed_once_and_in_order(tmp_path: Path) -> None:
    main = write(
        tmp_path / "main.beancount",
        'include "years/*.beancount"\ninclude "ponto.beancount"\ninclude "missing.beancount"\n',
    )
    y1 = write(tmp_path / "years/2024.beancount", 'include "../ponto.beancount"\n')
    y2 = write(tmp_path / "years/2025.beancount", 'include "2024.beancount"\n')  # a loop back
    out = write(tmp_path / "ponto.beancount", 'include "main.beancount"\n')  # a cycle
    assert ledger_files(main) == [main, y1, y2, out]
    with_missing = ledger_files(main, with_missing=True)
    assert with_missing[-1] == tmp_path / "missing.beancount"


def test_a_missing_main_file_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        ledger_files(tmp_path / "nowhere.beancount")


def test_the_include_cache_is_used_while_a_file_is_unchanged(tmp_path: Path) -> None:
    main = write(tmp_path / "main.beancount", 'include "a.beancount"\n')
    a = write(tmp_path / "a.beancount", "")
    cache: dict[str, list[object]] = {}
    assert ledger_files(main, cache=cache) == [main, a]
    assert set(cache) == {str(main), str(a)}
    cache[str(main)][2] = []  # what a stale cache would say; the file's stamp is unchanged
    assert ledger_files(main, cache=cache) == [main]
    write(main, 'include "a.beancount"\n\n')  # changed size: read again
    assert ledger_files(main, cache=cache) == [main, a]


def test_the_id_scan_unescapes_quotes_and_backslashes(tmp_path: Path) -> None:
    text = (
        ENTRY.format(id="plain")
        + "\n"
        + ENTRY.format(id=r"with \"quotes\" and \\ back")
        + '\n2025-03-02 balance Assets:Bank:Checking 10 EUR\n  ponto_balance: "bal-1"\n'
        + '\n; ponto_balance: "withdrawn-1"\n'
        + 'ponto_id: "not-indented-so-not-metadata"\n'
    )
    path = write(tmp_path / "ponto.beancount", text)
    assert ids_in_file(path) == {"plain", 'with "quotes" and \\ back', "bal-1"}
    assert ids_in_file(tmp_path / "absent.beancount") == set()


def test_scan_ledger_reads_every_included_file_the_output_and_not_the_skipped(
    tmp_path: Path,
) -> None:
    main = write(
        tmp_path / "main.beancount",
        "2020-01-01 open Assets:Bank:Checking EUR, USD\n"
        "2019-06-01 open Assets:Bank:Checking\n"  # the earliest open decides: any currency
        "2020-01-01 open Assets:Bank:Savings EUR\n"
        "2024-12-31 close Assets:Bank:Savings\n"
        'include "moved.beancount"\ninclude "pending.beancount"\n',
    )
    write(tmp_path / "moved.beancount", ENTRY.format(id="moved-by-the-user"))
    pending = write(tmp_path / "pending.beancount", ENTRY.format(id="pending-only"))
    output = write(tmp_path / "ponto.beancount", ENTRY.format(id="in-the-output"))
    scan = scan_ledger(main, output, skip=pending.resolve())
    assert scan.ids == {"moved-by-the-user", "in-the-output"}
    assert scan.opened_on == {
        "Assets:Bank:Checking": dt.date(2019, 6, 1),
        "Assets:Bank:Savings": dt.date(2020, 1, 1),
    }
    assert "Assets:Bank:Checking" not in scan.currencies
    assert scan.currencies["Assets:Bank:Savings"] == frozenset({"EUR"})
    assert scan.closed_on == {"Assets:Bank:Savings": dt.date(2024, 12, 31)}
    assert output.resolve() not in scan.files  # scanned, but not part of the ledger


def test_the_state_folder_sits_beside_the_output(tmp_path: Path) -> None:
    assert state_dir(tmp_path / "books" / "ponto.beancount") == tmp_path / "books" / STATE_DIR_NAME


def test_append_creates_the_output_with_its_header_and_stays_valid(tmp_path: Path) -> None:
    main = write(
        tmp_path / "main.beancount",
        "2020-01-01 open Assets:Bank:Checking\n2020-01-01 open Expenses:Food\n"
        'include "ponto.beancount"\n',
    )
    output = tmp_path / "ponto.beancount"
    append_text(output, ENTRY.format(id="a"))
    append_text(output, ENTRY.format(id="b") + "\n\n")
    text = output.read_text(encoding="utf-8")
    assert text.startswith(OUTPUT_HEADER)
    assert ids_in_file(output) == {"a", "b"}
    assert bean_check(main) == []


def test_an_unwritable_output_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="cannot write"):
        append_text(tmp_path / "no-such-folder" / "ponto.beancount", ENTRY.format(id="x"))


def test_a_held_lock_names_its_holder_and_times_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "ponto.beancount"
    with writer_lock(output):
        holder = state_dir(output) / "ponto.beancount.lock.holder"
        assert '"pid"' in holder.read_text(encoding="utf-8")
        other = filelock.FileLock(str(state_dir(output) / "ponto.beancount.lock"))
        with pytest.raises(filelock.Timeout):
            other.acquire(timeout=0)
        with (
            caplog.at_level(logging.WARNING),
            pytest.raises(LockTimeoutError) as info,
            writer_lock(output, timeout=0),
        ):
            pass  # pragma: no cover (the lock is not taken)
        assert "is writing this ledger" in str(info.value)
        assert "waiting up to 0s" in caplog.text
    assert not holder.exists()
    with writer_lock(output, timeout=0):  # released: taken at once
        pass
