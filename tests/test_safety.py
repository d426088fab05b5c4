"""Issue 7, points 4 and 6: withdrawing an assertion, and the smaller losses.

Every test runs a real sync over HTTP against the simulator.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from beancount import loader

from beancount_ponto.cli import main as cli
from beancount_ponto.importer import PontoImporter
from beancount_ponto.simulator import Simulator
from beancount_ponto.state import SyncState
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import ledger_ids, sim_ids

NOTE = '2026-11-01 note Assets:Bank:Checking "Called the bank about the fees"\n'


def add_note_in_place(ws: Workspace) -> None:
    """The user adds a note right after the header, saved in place (as Fava's editor does)."""
    text = ws.output_text()
    head, _, rest = text.partition("\n\n")
    with ws.output.open("r+", encoding="utf-8") as handle:
        handle.write(head + "\n\n" + NOTE + "\n" + rest)


def delete_note_in_place(ws: Workspace) -> None:
    text = ws.output_text()
    assert NOTE in text
    with ws.output.open("r+", encoding="utf-8") as handle:
        handle.write(text.replace(NOTE + "\n", ""))
        handle.truncate()


# -- 4. withdrawing a balance assertion -----------------------------------------------


def test_an_edit_saved_during_the_withdrawal_touches_nothing_else(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.sync()
    add_note_in_place(ws)
    checking = ws.sim.account_ids[0]
    late = ws.sim.add_transaction(checking, "-12.34", execution_date=TODAY - dt.timedelta(days=2))
    real_load = loader.load_file
    edits: list[int] = []

    def load_then_user_saves(*args: Any, **kwargs: Any) -> Any:
        loaded = real_load(*args, **kwargs)
        if not edits:  # the user deletes the note in Fava while the sync works
            edits.append(1)
            delete_note_in_place(ws)
        return loaded

    monkeypatch.setattr(loader, "load_file", load_then_user_saves)
    result = ws.sync()
    monkeypatch.undo()
    assert edits
    assert any("withdrawn" in n for a in result.accounts for n in a.notes)
    text = ws.output_text()
    assert NOTE not in text  # the user's deletion is kept
    assert "\n; 2026-11-21 balance Assets:Bank:Checking" in text
    assert "\n2026-11-21 balance Assets:Bank:Savings" in text
    assert "\n2026-11-21 balance Assets:Bank:Dollars" in text
    counts = ledger_ids(ws)
    assert set(counts) == sim_ids(ws.sim) and max(counts.values()) == 1
    assert counts[late] == 1
    assert bean_check(ws.ledger) == []


def test_an_edit_saved_during_the_replacement_is_kept(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.sync()
    add_note_in_place(ws)
    checking = ws.sim.account_ids[0]
    late = ws.sim.add_transaction(checking, "-12.34", execution_date=TODAY - dt.timedelta(days=2))
    real_fsync = os.fsync
    edits: list[int] = []

    def fsync_then_user_saves(fd: int) -> None:
        real_fsync(fd)
        name = os.readlink(f"/proc/self/fd/{fd}")
        if not edits and Path(name).name.startswith(".ponto.beancount."):
            edits.append(1)  # saved between our read and our rename
            delete_note_in_place(ws)

    monkeypatch.setattr(os, "fsync", fsync_then_user_saves)
    ws.sync()
    monkeypatch.undo()
    assert edits
    text = ws.output_text()
    assert NOTE not in text
    assert "\n; 2026-11-21 balance Assets:Bank:Checking" in text
    counts = ledger_ids(ws)
    assert set(counts) == sim_ids(ws.sim) and max(counts.values()) == 1
    assert counts[late] == 1
    assert bean_check(ws.ledger) == []


def test_only_the_failing_assertion_block_changes(ws: Workspace) -> None:
    ws.sync()
    before = ws.output_text().rstrip("\n").split("\n")
    checking = ws.sim.account_ids[0]
    ws.sim.add_transaction(checking, "-12.34", execution_date=TODAY - dt.timedelta(days=2))
    ws.sync()
    after = ws.output_text().split("\n")
    at = next(
        i for i, x in enumerate(before) if x.startswith("2026-11-21 balance Assets:Bank:Checking")
    )
    block, rest = before[at : at + 2], before[at + 2 :]
    assert after[:at] == before[:at]
    assert after[at].startswith(
        "; balance assertion of Assets:Bank:Checking on 2026-11-21 withdrawn"
    )
    assert after[at + 1 : at + 3] == [f"; {line}" for line in block]
    assert after[at + 3 : at + 3 + len(rest)] == rest  # then the new batch follows
    assert bean_check(ws.ledger) == []


def test_a_crash_in_the_write_with_a_withdrawal_loses_nothing(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.sync()
    before = ws.output.read_bytes()
    checking = ws.sim.account_ids[0]
    late = ws.sim.add_transaction(checking, "-5.00", execution_date=TODAY - dt.timedelta(days=5))

    def power_cut(_src: object, _dst: object) -> None:
        raise SystemExit("power cut")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(SystemExit):
        ws.sync()
    monkeypatch.undo()
    assert ws.output.read_bytes() == before
    assert bean_check(ws.ledger) == []
    ws.sync()
    counts = ledger_ids(ws)
    assert counts[late] == 1 and max(counts.values()) == 1
    assert "\n; 2026-11-21 balance Assets:Bank:Checking" in ws.output_text()
    assert bean_check(ws.ledger) == []


# -- 6. smaller losses and false reports ----------------------------------------------


def test_the_importer_offers_an_item_served_twice_once(tmp_path: Path) -> None:
    with Simulator(account_sizes=[150], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        sim.repeat_next(1, path_contains="page[after]")
        entries = PontoImporter(ws.root / "ponto.toml").extract(str(ws.config.path), [])
        assert not sim.state.faults.pending()  # the repeat was served
        counts = Counter(str(e.meta["ponto_id"]) for e in entries)
        assert set(counts) == sim_ids(sim, 1)
        assert max(counts.values()) == 1


def test_the_simulator_repeat_serves_the_last_item_of_the_previous_page(tmp_path: Path) -> None:
    with Simulator(account_sizes=[150], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        client = ws.client()
        sim.repeat_next(1, path_contains="page[after]")
        pages = [[t.id for t in p] for p in client.transaction_pages(sim.account_ids[0])]
        client.close()
        assert len(pages) == 2 and len(pages[1]) == 51
        assert pages[1][0] == pages[0][-1]


@pytest.mark.parametrize("odd", ['quote"d', "back\\slash", 'both\\"'])
def test_ids_with_quotes_or_backslashes_are_written_once_after_a_crash(
    ws: Workspace, odd: str
) -> None:
    ws.sync()
    checking = ws.sim.account_ids[0]
    odd_id = ws.sim.add_transaction(checking, "-1.00", execution_date=TODAY, txn_id=odd)
    original = SyncState.end_batch

    def crash(self: SyncState) -> None:
        raise SystemExit("killed after the output was replaced")

    SyncState.end_batch = crash  # type: ignore[method-assign]
    try:
        with pytest.raises(SystemExit):
            ws.sync()
    finally:
        SyncState.end_batch = original  # type: ignore[method-assign]
    ws.sync()
    ws.sync()
    assert ledger_ids(ws)[odd_id] == 1
    assert odd_id in SyncState.load(ws.output).written_ids
    assert bean_check(ws.ledger) == []


def test_a_deleted_output_file_is_reported_not_called_success(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.sync()
    written = len(SyncState.load(ws.output).written_ids)
    ws.output.unlink()
    capsys.readouterr()
    code = cli.main(["--config", str(ws.config.path), "sync"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{written} entries written before are no longer in the ledger and are kept out" in out
    assert "already in the ledger" not in out
    assert not ledger_ids(ws)  # kept out: not written again
    assert bean_check(ws.ledger) == []


@pytest.mark.parametrize(
    "content",
    [b"[]\n", b'{"accounts": [1, 2]}\n', b'{"runs": 5}\n', b'{"accounts": {"ACCOUNT": 5}}\n'],
)
def test_a_state_file_of_the_wrong_shape_gives_a_clear_message(
    ws: Workspace, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    ws.sync()
    state = SyncState.load(ws.output)
    state.state_path.write_bytes(content.replace(b"ACCOUNT", ws.sim.account_ids[0].encode()))
    capsys.readouterr()
    code = cli.main(["--config", str(ws.config.path), "sync"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "unexpected" not in err[0]
    assert str(state.state_path) in err[0] and "move it away" in err[0]


def test_an_ids_log_with_invalid_utf8_gives_a_clear_message(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.sync()
    state = SyncState.load(ws.output)
    with state.ids_path.open("ab") as handle:
        handle.write(b"\xff\xfe-damaged\nafter\n")
    ws.sim.add_transaction(ws.sim.account_ids[0], "-1.00", execution_date=TODAY)
    capsys.readouterr()
    code = cli.main(["--config", str(ws.config.path), "sync"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "unexpected" not in err[0]
    assert str(state.ids_path) in err[0] and "line" in err[0]


def test_a_torn_multibyte_character_at_the_end_of_the_ids_log_is_not_fatal(ws: Workspace) -> None:
    ws.sync()
    state = SyncState.load(ws.output)
    with state.ids_path.open("ab") as handle:
        handle.write("é".encode()[:1])  # a crash tore the last id in the middle of a character
    new = ws.sim.add_transaction(ws.sim.account_ids[0], "-1.00", execution_date=TODAY)
    result = ws.sync()
    assert result.ok
    assert ledger_ids(ws)[new] == 1


def test_a_symlinked_output_file_is_written_through_the_link(
    tmp_path: Path, sim: Simulator
) -> None:
    ws = make_workspace(tmp_path / "books", sim)
    real = tmp_path / "elsewhere" / "bank.beancount"
    real.parent.mkdir()
    real.write_text("", encoding="utf-8")
    ws.output.symlink_to(real)
    ws.sync()
    ws.sim.add_transaction(ws.sim.account_ids[0], "-1.00", execution_date=TODAY)
    ws.sync()
    assert ws.output.is_symlink()
    assert ws.output.resolve() == real.resolve()
    counts = ledger_ids(ws)
    assert len(counts) == 121 and max(counts.values()) == 1
    assert not [p for p in real.parent.iterdir() if p.name != real.name]  # no temp files left
    assert bean_check(ws.ledger) == []
