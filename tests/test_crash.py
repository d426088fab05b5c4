"""kill -9 at random moments of a real `bean-ponto sync` process never breaks the ledger."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from beancount_ponto.simulator import Simulator
from tests.conftest import TODAY, bean_check, make_workspace

pytestmark = pytest.mark.slow  # real processes killed with SIGKILL


def test_kill_9_anywhere_leaves_a_valid_ledger_and_completes_once(tmp_path: Path) -> None:
    rng = random.Random(2026)
    with Simulator(account_sizes=[2500, 1500], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=2)
        # A kill may land before bean-ponto creates the included file at its start.
        ws.output.write_text("", encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "beancount_ponto.cli.main",
            "--config",
            str(ws.root / "ponto.toml"),
            "sync",
        ]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        kills = 0
        for _ in range(6):
            proc = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(0.3, 2.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            assert bean_check(ws.ledger) == [], "a killed writer left an invalid ledger"
        assert kills >= 1
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        counts = Counter(re.findall(r'ponto_id: "([^"]+)"', ws.output_text()))
        expected = {r["id"] for a in sim.account_ids[:2] for r in sim.transactions(a)}
        assert set(counts) == expected
        assert max(counts.values()) == 1
        assert bean_check(ws.ledger) == []


def test_kill_9_after_a_late_transaction_leaves_a_valid_ledger(tmp_path: Path) -> None:
    """The window between the append of a late transaction and the withdrawal is gone."""
    with Simulator(seed=7, today=TODAY, transactions_per_account=40) as sim:
        ws = make_workspace(tmp_path / "books", sim)
        ws.sync()  # asserts every account's balance
        checking, _savings, dollars = sim.account_ids
        late = sim.add_transaction(checking, "-12.34", execution_date=TODAY - dt.timedelta(days=2))
        # Checking is written first; the run then waits on the Dollars account.
        sim.slow_next(1, seconds=120, path_contains=f"/accounts/{dollars}/transactions")
        command = [
            sys.executable,
            "-m",
            "beancount_ponto.cli.main",
            "--config",
            str(ws.root / "ponto.toml"),
            "sync",
        ]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            # Wait until the late transaction is written and the run waits on Dollars.
            while (late not in ws.output_text() or sim.state.faults.pending()) and (
                proc.poll() is None
            ):
                assert time.monotonic() < deadline, "the sync never reached the window"
                time.sleep(0.05)
            assert proc.poll() is None, proc.communicate()[1]
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        assert bean_check(ws.ledger) == [], "the kill left a ledger that fails bean-check"
        sim.clear_faults()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        counts = Counter(re.findall(r'\n  ponto_id: "([^"]+)"', ws.output_text()))
        assert set(counts) == {r["id"] for a in sim.account_ids for r in sim.transactions(a)}
        assert max(counts.values()) == 1
        assert "\n; 2026-11-21 balance Assets:Bank:Checking" in ws.output_text()
        assert bean_check(ws.ledger) == []
