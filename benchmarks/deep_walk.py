"""Benchmark: the cost of the deep check next to an idle sync, on one large account.

For each simulator list order (by date, newest created first) it backfills one
account of N transactions (default 10,000), then measures, in one process with
the client kept (as the hourly runner does):

* an idle sync: requests to Ponto and wall time (the deep check is not due);
* a deep check (``sync --full``): requests, pages and wall time, including the
  balance comparison (one full ledger load).

Everything runs against the built-in simulator on 127.0.0.1.

Usage: python benchmarks/deep_walk.py [--transactions 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from beancount_ponto.config import load_config
from beancount_ponto.credentials import Credentials, client_for
from beancount_ponto.simulator import Simulator
from beancount_ponto.state import SyncState
from beancount_ponto.sync import SyncOptions, run_sync
from beancount_ponto.testing import connect

if TYPE_CHECKING:
    from beancount_ponto.simulator.records import ListOrder

TODAY = dt.date(2026, 11, 20)
MAIN = """option "title" "Benchmark"
1970-01-01 open Assets:Bank:Checking
include "ponto.beancount"
"""


def measure(order: ListOrder, transactions: int, runs: int) -> None:
    """Print the idle and the deep figures for one list order."""
    with (
        Simulator(account_sizes=[transactions], today=TODAY, list_order=order) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        root = Path(tmp) / "books"
        root.mkdir()
        ledger = root / "main.beancount"
        ledger.write_text(MAIN, encoding="utf-8")
        connect(
            ledger,
            api_url=sim.url,
            credentials=Credentials(sim.client_id, sim.client_secret),
            credentials_file=root.parent
            / "secrets"
            / "credentials.json",  # never beside the ledger
            account_names=["Assets:Bank:Checking"],
        )
        config = load_config(root / "ponto.toml")
        output = root / "ponto.beancount"
        client = client_for(config)
        run_sync(config, client, ledger=ledger, output=output)  # backfill
        run_sync(config, client, ledger=ledger, output=output)  # balance assertion
        for label, full in (("idle sync", False), ("deep check", True)):
            seconds, requests = [], []
            for _ in range(runs):
                before = client.request_count
                start = time.perf_counter()
                result = run_sync(
                    config, client, ledger=ledger, output=output, options=SyncOptions(full=full)
                )
                seconds.append(time.perf_counter() - start)
                requests.append(client.request_count - before)
                assert result.ok and result.new == 0, result.accounts[0].summary()
            record = SyncState.load(output).account(sim.account_ids[0])
            check = record.deep_check
            extra = (
                f", {check.pages} pages, {check.seen} read, balance {check.balance}"
                if full and check
                else ""
            )
            print(
                f"{order:>7} order, {transactions} transactions, {label}: "
                f"{statistics.median(requests):.0f} requests, "
                f"{statistics.median(seconds):.2f} s (median of {runs}){extra}"
            )
        client.close()


def main() -> None:
    """Run the benchmark for both list orders."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for order in ("date", "created"):
        measure(order, args.transactions, args.runs)


if __name__ == "__main__":
    main()
