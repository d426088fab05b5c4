"""How fast the Fava Ponto page renders on a 100,000-transaction ledger.

Usage (from the repository root)::

    python benchmarks/fava_page.py [--transactions 100000] [--repeat 9]

Builds a ledger with the simulator (one account of N transactions, two small
ones) through the real sync, loads it in Fava (create_app + test client) and
prints the median render time of the Ponto page divided by that of Fava's own
Balance Sheet (target <= 1.0). Fava renders the Balance Sheet in the browser,
so its cost is the page request plus its data request (``api/balance_sheet``);
the Ponto page is rendered on the server, so its one request is its whole
cost (including one live call to the simulator for Ponto's account list).
Both are measured after warm-up, median of ``--repeat`` requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path

from fava.application import create_app

from beancount_ponto.credentials import Credentials
from beancount_ponto.ponto.client import PontoClient
from beancount_ponto.simulator import Simulator
from beancount_ponto.sync import SyncOptions, run_sync
from beancount_ponto.testing import connect

LEDGER = """\
option "title" "Bench"
option "operating_currency" "EUR"
1900-01-01 custom "fava-extension" "fava_ponto"
1900-01-01 open Assets:Bank:Checking
1900-01-01 open Assets:Bank:Savings
1900-01-01 open Assets:Bank:Dollars
include "ponto.beancount"
"""
NAMES = ("Assets:Bank:Checking", "Assets:Bank:Savings", "Assets:Bank:Dollars")


def build(root: Path, sim: Simulator) -> Path:
    """Write the ledger and sync every simulator account into it."""
    ledger = root / "main.beancount"
    ledger.write_text(LEDGER, encoding="utf-8")
    config = connect(
        ledger,
        api_url=sim.url,
        credentials=Credentials(sim.client_id, sim.client_secret),
        credentials_file=root.parent / f"{root.name}-credentials.json",
        account_names=NAMES,
    )
    client = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url)
    with closing(client):
        run_sync(
            config, client, ledger=ledger, output=root / "ponto.beancount", options=SyncOptions()
        )
    return ledger


def median_ms(func: object, repeat: int) -> float:
    """Median wall time of ``func()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Build, warm up, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        Simulator(seed=7, account_sizes=[args.transactions - 200, 100, 100]) as sim,
    ):
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "xdg")
        started = time.perf_counter()
        ledger = build(Path(tmp), sim)
        print(
            f"ledger of {args.transactions} transactions synced in "
            f"{time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        app = create_app([str(ledger)], load=True, poll_watcher=True)
        client = app.test_client()
        fava_ledger = app.config["LEDGERS"]["bench"]
        print(
            f"Fava loaded it in {time.perf_counter() - started:.1f} s "
            f"({len(fava_ledger.all_entries)} entries, {len(fava_ledger.errors)} errors: "
            f"{'; '.join(str(e.message)[:80] for e in fava_ledger.errors) or 'none'})"
        )

        def ok(path: str) -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        def ponto() -> None:
            ok("/bench/extension/FavaPonto/")

        def balance_sheet() -> None:
            ok("/bench/balance_sheet/")
            ok("/bench/api/balance_sheet")

        def balance_sheet_html() -> None:
            ok("/bench/balance_sheet/")

        first = median_ms(ponto, 1)  # the one request after a load that builds the index
        for _ in range(3):
            ponto()
            balance_sheet()
        page = median_ms(ponto, args.repeat)
        sheet = median_ms(balance_sheet, args.repeat)
        sheet_html = median_ms(balance_sheet_html, args.repeat)
        print(f"Ponto page, first request after the load (builds the ledger index): {first:.1f} ms")
        print(f"Ponto page (median of {args.repeat}): {page:.1f} ms")
        print(f"Balance Sheet, page + api/balance_sheet (median): {sheet:.1f} ms")
        print(f"Balance Sheet, page shell only (median): {sheet_html:.1f} ms")
        print(f"ratio Ponto page / Balance Sheet: {page / sheet:.2f} (target <= 1.0)")
        print(f"ratio Ponto page / Balance Sheet shell only: {page / sheet_html:.2f}")


if __name__ == "__main__":
    main()
