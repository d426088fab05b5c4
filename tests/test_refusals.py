"""Nothing the ledger would reject is written, and nothing refused is lost.

Each refusal fails its account (exit status 1, one line naming the problem and
the fix), leaves the ids log alone, and the refused items arrive exactly once
after the user fixes the ledger.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pytest

from beancount_ponto.cli import main as cli
from beancount_ponto.simulator import Simulator
from beancount_ponto.state import SyncState
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import ids_in

if TYPE_CHECKING:
    from pathlib import Path

    from beancount_ponto.sync import AccountResult, SyncResult


def of(result: SyncResult, ponto_id: str) -> AccountResult:
    return next(a for a in result.accounts if a.ponto_id == ponto_id)


def served_ids(ws: Workspace, account: str) -> set[str]:
    return {r["id"] for r in ws.sim.transactions(account)}


def edit_ledger(ws: Workspace, old: str, new: str) -> None:
    text = ws.ledger.read_text(encoding="utf-8")
    assert old in text
    ws.ledger.write_text(text.replace(old, new), encoding="utf-8")


def sync_cli(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``bean-ponto --config ponto.toml sync``: the exit status and standard error."""
    capsys.readouterr()
    code = cli.main(["--config", str(ws.config.path), "sync"])
    return code, capsys.readouterr().err


def assert_refused_then_arrives(
    ws: Workspace,
    capsys: pytest.CaptureFixture[str],
    account: str,
    words: tuple[str, ...],
    fix: tuple[str, str],
) -> None:
    """Sync refuses ``account`` (message with ``words``), the fix lets all of it arrive once."""
    code, err = sync_cli(ws, capsys)
    assert code == 1
    lines = [line for line in err.splitlines() if "FAILED" in line]
    assert len(lines) == 1, err
    assert all(word in lines[0] for word in words), lines[0]
    refused = served_ids(ws, account)
    assert not refused & set(ids_in(ws.output_text()))
    assert not refused & SyncState.load(ws.output).written_ids
    assert bean_check(ws.ledger) == []
    others = set().union(*(served_ids(ws, a) for a in ws.sim.account_ids if a != account))
    assert others <= set(ids_in(ws.output_text()))

    edit_ledger(ws, *fix)
    code, err = sync_cli(ws, capsys)
    assert code == 0, err
    counts = ids_in(ws.output_text() + ws.ledger.read_text(encoding="utf-8"))
    assert refused <= set(counts)
    assert max(counts.values()) == 1
    assert bean_check(ws.ledger) == []


def test_a_currency_the_accounts_open_does_not_allow_is_refused_until_allowed(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    checking = ws.sim.account_ids[0]
    edit_ledger(ws, "open Assets:Bank:Checking\n", "open Assets:Bank:Checking EUR\n")
    ws.sim.add_transaction(checking, "-12.50", currency="USD")
    assert_refused_then_arrives(
        ws,
        capsys,
        checking,
        ("Assets:Bank:Checking", "USD", "open", "add USD"),
        ("open Assets:Bank:Checking EUR\n", "open Assets:Bank:Checking EUR,USD\n"),
    )


def test_a_currency_the_counter_accounts_open_does_not_allow_is_refused_until_allowed(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    dollars = ws.sim.account_ids[2]
    edit_ledger(ws, "\ninclude", '\n2000-01-01 open Expenses:Uncategorized EUR "STRICT"\n\ninclude')
    assert_refused_then_arrives(
        ws,
        capsys,
        dollars,
        ("Expenses:Uncategorized", "USD", "add USD"),
        ("open Expenses:Uncategorized EUR ", "open Expenses:Uncategorized EUR, USD "),
    )


def test_an_amount_beancount_cannot_hold_exactly_is_refused(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    checking = ws.sim.account_ids[0]
    huge = "-1234567890.12345678901234567891"  # 30 significant digits
    tx = ws.sim.add_transaction(checking, huge)
    served = next(r for r in ws.sim.transactions(checking) if r["id"] == tx)
    assert str(served["attributes"]["amount"]) == huge  # the simulator serves it exactly
    by_hand = (
        f'\n{TODAY} * "Entered by hand"\n  ponto_id: "{tx}"\n'
        "  Assets:Bank:Checking  -1234567890.123456789012345679 EUR\n"
        "  Expenses:Uncategorized\n"
    )
    assert_refused_then_arrives(
        ws,
        capsys,
        checking,
        (tx, "30 significant digits", "28", f'ponto_id: "{tx}"'),
        ("\ninclude", by_hand + "\ninclude"),
    )
    assert ids_in(ws.output_text())[tx] == 0  # the hand-made entry stands for it


def test_bean_pontos_own_open_precedes_the_oldest_entry(ws: Workspace) -> None:
    edit_ledger(ws, "2000-01-01 open Assets:Bank:Checking\n", "")
    checking = ws.sim.account_ids[0]
    old = ws.sim.add_transaction(checking, "-3.00", execution_date=dt.date(1965, 5, 1))
    result = ws.sync()
    assert result.ok, [a.summary() for a in result.accounts]
    text = ws.output_text()
    assert "1965-05-01 open Assets:Bank:Checking" in text
    assert "1965-05-01 open Expenses:Uncategorized" in text
    assert ids_in(text)[old] == 1
    assert bean_check(ws.ledger) == []


def test_a_later_arrival_older_than_bean_pontos_open_is_refused_until_moved(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_ledger(ws, "2000-01-01 open Assets:Bank:Savings\n", "")
    code, err = sync_cli(ws, capsys)
    assert code == 0, err
    opened = re.findall(r"^(\S+) open (\S+)", ws.output_text(), re.MULTILINE)
    assert sorted(opened) == [
        ("1970-01-01", "Assets:Bank:Savings"),
        ("1970-01-01", "Expenses:Uncategorized"),
        ("1970-01-01", "Income:Uncategorized"),  # the placeholder of credits
    ]
    savings = ws.sim.account_ids[1]
    late = ws.sim.add_transaction(savings, "7.00", execution_date=dt.date(1969, 12, 31))
    code, err = sync_cli(ws, capsys)
    assert code == 1
    [line] = [line for line in err.splitlines() if "FAILED" in line]
    assert "1969-12-31" in line and "1970-01-01 open" in line and "move that open earlier" in line
    assert late not in SyncState.load(ws.output).written_ids
    assert bean_check(ws.ledger) == []
    output = ws.output_text()
    ws.output.write_text(output.replace("1970-01-01 open", "1960-01-01 open"), encoding="utf-8")
    code, err = sync_cli(ws, capsys)
    assert code == 0, err
    assert ids_in(ws.output_text())[late] == 1
    assert bean_check(ws.ledger) == []


def test_a_balance_in_a_currency_the_open_does_not_allow_is_not_asserted(tmp_path: Path) -> None:
    with Simulator(seed=7, today=TODAY, account_sizes=[5, 5, 0]) as sim:
        ws = make_workspace(tmp_path / "books", sim)
        edit_ledger(ws, "open Assets:Bank:Dollars\n", "open Assets:Bank:Dollars EUR\n")
        assert ws.sim.balance(ws.sim.account_ids[2]) == 0  # the ledger agrees: 0 USD
        # An account without transactions has its last refresh as reference
        # date; the test clock runs at real time, so date that refresh to TODAY
        # for the observation to be settled at the second run.
        ws.sim.set_synchronized_at(
            ws.sim.account_ids[2], dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
        )
        for _ in range(2):  # the second run has the settled reference date
            result = ws.sync()
            assert bean_check(ws.ledger) == []
        notes = of(result, ws.sim.account_ids[2]).notes
        assert any("no balance assertion in USD" in n and "add USD" in n for n in notes), notes
        assert "balance Assets:Bank:Dollars" not in ws.output_text()


def test_the_scan_reads_the_currencies_each_open_allows(tmp_path: Path) -> None:
    from beancount_ponto.ledger import scan_ledger

    ledger = tmp_path / "main.beancount"
    ledger.write_text(
        "2000-01-01 open Assets:A EUR,USD ; two\n"
        '2000-01-01 open Assets:B  EUR, CHF "FIFO"\n'
        "2000-01-01 open Assets:C\n"
        '  note: "any"\n'
        "2001-01-01 open Assets:D GBP\n"
        "2000-06-01 open Assets:D\n",  # the earliest open rules (bean-check reports the other)
        encoding="utf-8",
    )
    scan = scan_ledger(ledger)
    assert scan.currencies == {
        "Assets:A": frozenset({"EUR", "USD"}),
        "Assets:B": frozenset({"EUR", "CHF"}),
    }
    assert scan.opened_on["Assets:D"] == dt.date(2000, 6, 1)


def test_the_checks_cost_an_idle_run_no_ledger_scan(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from beancount_ponto import ledger as ledger_module
    from beancount_ponto import sync_run as sync_module

    ws.sync()
    ws.sync()  # settles the balance assertions
    scans: list[Path] = []
    real = ledger_module.scan_ledger

    def counting(main: Path, extra: Path | None = None) -> object:
        scans.append(main)
        return real(main, extra)

    monkeypatch.setattr(sync_module, "scan_ledger", counting)
    result = ws.sync()
    assert result.ok and result.new == 0
    assert scans == []
