"""Every benchmark still runs: each script once, at a toy size, as a real process.

The figures are not asserted (speed is shown by running the scripts at their
real sizes, never by timed tests); what is asserted is that each finishes with
exit status 0 and prints its result line. Two of them failed unnoticed once the
credentials guard refused their credentials file beside the ledger.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    (["sync_benchmark.py", "--transactions", "300", "--runs", "1"], "RESULT backfill memory"),
    (["deep_walk.py", "--transactions", "150", "--runs", "1"], "deep check: "),
    (["learn_cost.py", "--years", "1", "--scale", "1", "--runs", "1"], "RESULT one new"),
    (["learn_accuracy.py", "--years", "3"], "beancount_ponto.learn"),
    (["fava_page.py", "--transactions", "200", "--repeat", "1"], "ratio Ponto page"),
    (["soak_runner.py", "--minutes", "0.1", "--transactions", "20"], "soak: OK"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("args", "result"), CASES, ids=[c[0][0] for c in CASES])
def test_the_benchmark_runs(args: list[str], result: str) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert result in run.stdout
