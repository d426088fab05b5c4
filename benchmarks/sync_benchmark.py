"""Benchmark: idle sync cost vs bean-check, and backfill memory vs history size.

Prints two results:

1. ``idle sync / bean-check``: wall time of an idle sync (nothing new at Ponto)
   on a ledger of N transactions (default 100,000) divided by the wall time of
   ``bean-check --no-cache`` on the same ledger, medians of a few runs.
   Target: <= 0.05. The idle sync is measured as the hourly job runs it (a tick
   of ``bean-ponto run``: one process, the client kept) and, for reference, as a
   one-shot ``bean-ponto sync`` command, which also pays for starting Python.
2. Peak memory (max RSS of the ``bean-ponto sync`` process) of a first backfill
   of 1,000 / 5,000 / 10,000 transactions. Target: flat in the history size.

Everything runs against the built-in simulator on 127.0.0.1.

Usage: python benchmarks/sync_benchmark.py [--transactions 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from beancount_ponto.config import load_config
from beancount_ponto.credentials import Credentials, client_for
from beancount_ponto.simulator import Simulator
from beancount_ponto.sync import run_sync
from beancount_ponto.testing import connect

TODAY = dt.date(2026, 11, 20)
NAMES = ["Assets:Bank:Checking", "Assets:Bank:Savings", "Assets:Bank:Dollars"]
MAIN = """option "title" "Benchmark"
1970-01-01 open Assets:Bank:Checking
1970-01-01 open Assets:Bank:Savings
1970-01-01 open Assets:Bank:Dollars
include "ponto.beancount"
"""


def bin_path(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found; install the package first (pip install -e .)")
    return found


def workspace(root: Path, sim: Simulator, accounts: int) -> Path:
    root.mkdir(parents=True)
    (root / "main.beancount").write_text(MAIN, encoding="utf-8")
    connect(
        root / "main.beancount",
        api_url=sim.url,
        credentials=Credentials(sim.client_id, sim.client_secret),
        credentials_file=root.parent / f"{root.name}-credentials.json",
        account_names=NAMES[:accounts],
    )
    return root / "ponto.toml"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


# Linux keeps a process's peak RSS across fork and exec, so the measured command
# is started by this small launcher, not by the (large) benchmark process.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_pid, status, usage = os.wait4(p.pid, 0)\n"
    "print(status, usage.ru_maxrss)\n"
)


def peak_rss_mb(command: list[str]) -> float:
    """Run ``command`` and return its peak resident memory in MiB."""
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True, check=True
    ).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"{command} failed with status {out[0]}")
    return int(out[1]) / 1024


def idle_ratio(total: int, runs: int, tmp: Path) -> None:
    sizes = [total - 2 * (total // 3), total // 3, total // 3]
    print(f"Generating a simulator with {total:,} transactions in 3 accounts...", flush=True)
    with Simulator(account_sizes=sizes, today=TODAY) as sim:
        config = workspace(tmp / "idle", sim, accounts=3)
        sync = [bin_path("bean-ponto"), "--config", str(config), "sync"]
        first = timed(sync)
        ledger = tmp / "idle" / "main.beancount"
        size = sum(p.stat().st_size for p in (tmp / "idle").glob("*.beancount"))
        print(
            f"first backfill of {total:,} transactions: {first:.1f} s "
            f"({total / first:,.0f} tx/s); ledger {size / 2**20:.1f} MiB"
        )
        second = timed(sync)
        print(f"second run (checks the ledger once, writes the balance assertions): {second:.1f} s")
        check = [bin_path("bean-check"), "--no-cache", str(ledger)]  # the target's reference
        check_times = [timed(check) for _ in range(runs)]
        cli_times = [timed(sync) for _ in range(runs)]
        tick_times, requests = runner_ticks(config, sim, runs)
    check_t = statistics.median(check_times)
    cli_t = statistics.median(cli_times)
    tick_t = statistics.median(tick_times)
    print(f"bean-check --no-cache: median {check_t:.2f} s over {runs} runs")
    print(
        f"idle `bean-ponto sync` command (includes starting Python and importing "
        f"requests and beancount): median {cli_t:.3f} s -> ratio {cli_t / check_t:.4f}"
    )
    print(
        f"idle hourly tick of `bean-ponto run` (the scheduled job; in-process run_sync): "
        f"median {tick_t:.3f} s, {requests} HTTP requests per tick "
        "(accounts + 1 page per account; the token is cached)"
    )
    verdict = "OK" if tick_t / check_t <= 0.05 else "ABOVE TARGET"
    print(
        f"RESULT idle hourly sync / bean-check = {tick_t / check_t:.4f} (target <= 0.05): {verdict}"
    )


def runner_ticks(config_path: Path, sim: Simulator, runs: int) -> tuple[list[float], int]:
    """Time idle syncs the way the runner does them: one process, a kept client."""
    config = load_config(config_path)
    ledger = config.ledger_path()
    output = config.output_path(ledger)
    client = client_for(config)
    run_sync(config, client, ledger=ledger, output=output)  # warm: token, caches
    times = []
    for _ in range(max(runs, 5)):
        start = time.perf_counter()
        result = run_sync(config, client, ledger=ledger, output=output)
        times.append(time.perf_counter() - start)
        assert result.new == 0, "the benchmark ledger must be idle"
    sim.reset_log()
    run_sync(config, client, ledger=ledger, output=output)
    return times, len(sim.request_log)


def backfill_memory(tmp: Path) -> None:
    print("Backfill peak memory (max RSS of the bean-ponto sync process):")
    peaks = []
    for count in (1_000, 5_000, 10_000):
        with Simulator(account_sizes=[count], today=TODAY) as sim:
            config = workspace(tmp / f"mem{count}", sim, accounts=1)
            peak = peak_rss_mb([bin_path("bean-ponto"), "--config", str(config), "sync"])
        peaks.append(peak)
        print(f"  {count:>6,} transactions: {peak:6.1f} MiB")
    growth = peaks[-1] - peaks[0]
    print(
        f"RESULT backfill memory 1,000 -> 10,000 transactions: {peaks[0]:.1f} -> "
        f"{peaks[-1]:.1f} MiB (+{growth:.1f} MiB for 9,000 more transactions)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-idle", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bean-ponto-bench-") as folder:
        tmp = Path(folder)
        if not args.skip_idle:
            idle_ratio(args.transactions, args.runs, tmp)
        backfill_memory(tmp)


if __name__ == "__main__":
    main()
