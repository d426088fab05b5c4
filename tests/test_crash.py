"""kill -9 at random moments of a real `bean-ponto sync` process never breaks the ledger."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from beancount_ponto.simulator import Simulator
from tests.conftest import TODAY, bean_check, make_workspace


def test_kill_9_anywhere_leaves_a_valid_ledger_and_completes_once(tmp_path: Path) -> None:
    rng = random.Random(2026)
    with Simulator(account_sizes=[2500, 1500], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=2)
        # A kill may land before bean-ponto creates the included file at its start.
        ws.output.write_text("", encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "beancount_ponto.cli",
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
