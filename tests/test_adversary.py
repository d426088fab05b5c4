"""Issue 7 attacked from combinations no single point's tests cover.

Every test runs a real sync over HTTP against the simulator (and the real
``bean-ponto`` command where the exit status matters).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from beancount_ponto import sync, sync_balances
from beancount_ponto.cli import main as cli
from beancount_ponto.simulator import Simulator
from beancount_ponto.state import SyncState
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import text_ids

ROOT = Path(__file__).resolve().parents[1]
BALANCE_BLOCK = re.compile(
    r"\n(\d{4}-\d{2}-\d{2} balance Assets:Bank:Checking .*\n(?:[ \t]+.*\n)*)"
)


def bean_ponto(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``bean-ponto`` command in a subprocess."""
    code = "import sys; from beancount_ponto.cli.main import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(ws.config.path), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def move_checking_assertion_to_main(ws: Workspace) -> str:
    """The user moves bean-ponto's balance assertion into the main file (allowed)."""
    text = ws.output_text()
    found = BALANCE_BLOCK.search(text)
    assert found is not None
    block = found.group(1)
    ws.output.write_text(text.replace(block, ""), encoding="utf-8")
    ws.ledger.write_text(ws.ledger.read_text(encoding="utf-8") + "\n" + block, encoding="utf-8")
    assert bean_check(ws.ledger) == []
    return block


def test_a_late_transaction_against_an_assertion_moved_elsewhere_is_refused(
    ws: Workspace,
) -> None:
    """Our assertion moved to another file cannot be withdrawn: refuse, never break the ledger."""
    ws.sync()
    block = move_checking_assertion_to_main(ws)
    checking = ws.sim.account_ids[0]
    late = ws.sim.add_transaction(checking, "-5.55", execution_date=TODAY - dt.timedelta(days=3))
    code = cli.main(["--config", str(ws.config.path), "sync"])
    assert code == 1
    assert bean_check(ws.ledger) == []
    assert late not in text_ids(ws)
    assert late not in SyncState.load(ws.output).written_ids
    result = ws.sync()
    checking_result = next(a for a in result.accounts if a.ponto_id == checking)
    assert checking_result.error is not None
    assert "main.beancount" in checking_result.error
    assert "comment out or delete" in checking_result.error
    # The user withdraws it by hand; the late transaction then arrives once.
    main = ws.ledger.read_text(encoding="utf-8")
    ws.ledger.write_text(main.replace(block, ""), encoding="utf-8")
    assert ws.sync().ok
    assert text_ids(ws)[late] == 1
    assert max(text_ids(ws).values()) == 1
    assert bean_check(ws.ledger) == []


def test_a_creation_time_near_year_1_does_not_stop_every_account(tmp_path: Path) -> None:
    """Issue 7.5 in the walk's stop rule: a valid ``createdAt`` made it overflow.

    ``createdAt`` a few days after 0001-01-01 passes the parser (it is more than
    two days from the end of the range), then the stop rule subtracted
    ``overlap_days`` from it: OverflowError, which stopped every account.
    """
    with Simulator(account_sizes=[0, 30], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=2)
        checking, savings = sim.account_ids[:2]
        for days in (30, 1):
            sim.add_transaction(
                checking,
                "-1.00",
                execution_date=TODAY - dt.timedelta(days=days),
                createdAt="0001-01-05T00:00:00.000Z",
            )
        assert ws.sync().ok
        fresh = sim.add_transaction(savings, "4.00", execution_date=TODAY)
        again = ws.sync()  # the first page of checking is settled: the floor is computed
        assert again.ok, [a.error for a in again.accounts]
        assert text_ids(ws)[fresh] == 1
        assert sim.transactions(checking)[0]["attributes"]["createdAt"].startswith("0001-")
        assert max(text_ids(ws).values()) == 1
        assert bean_check(ws.ledger) == []


class CronClock:
    """Wall time as an hourly cron job sees it: each run starts on the hour and takes time."""

    def __init__(self) -> None:
        self.start = dt.datetime.now(dt.UTC).replace(minute=7, second=0, microsecond=0)
        self.now = self.start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=2)  # the run goes on meanwhile
        return self.now

    def tick(self, hours: int) -> None:
        self.now = self.start + dt.timedelta(hours=hours)


def test_the_deep_check_comes_every_24_hourly_cron_runs_not_every_25(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 7.1 "at least once a day": cron starts runs on the hour; a check ends a bit later."""
    clock = CronClock()
    for module in (sync, sync_balances):  # the run's clock, as both steps read it
        monkeypatch.setattr(module, "now_utc", clock)
    with Simulator(account_sizes=[300], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        ws.sync()  # the first run reads the whole list: the first deep check
        deep_runs = []
        for hour in range(1, 25):
            clock.tick(hour)
            sim.reset_log()
            ws.sync()
            if sum("/transactions?" in p for _m, p, _s in sim.request_log) > 1:
                deep_runs.append(hour)
        assert deep_runs == [24]
