"""What learning costs on a large ledger, as a share of ``bean-check --no-cache`` on it.

Writes a ledger of about 100,000 booked transactions (the noisy household
history, scaled) into an output file included by a main file, then times:

* ``bean-check --no-cache`` on it (the yardstick);
* a cold start: reading every file and saving the cache;
* an idle run: loading the cache and finding every stamp unchanged (no ledger read);
* one new transaction: the output file gained one entry since the cache was
  saved; loading the cache, reading what changed, training and booking it.

Then the same ledger end to end, through the real pipeline (``run_sync`` as the
hourly runner calls it, in one process with a kept client, against the
simulator over HTTP): an idle sync, and a sync that brings one new transaction
and books it from that history (ledger scan, learning cache, training, booking,
the crash-safe append), each as a share of ``bean-check --no-cache``.

Run: ``python benchmarks/learn_cost.py [--years 10] [--scale 25] [--runs 5]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from beancount_ponto.booking import book
from beancount_ponto.config import load_config
from beancount_ponto.convert import ConvertOptions, format_entries, transaction_to_entry
from beancount_ponto.credentials import Credentials, client_for
from beancount_ponto.learn import Model
from beancount_ponto.learn_cache import GUESS_META_KEY, cache_path, load_cache, refresh, save_cache
from beancount_ponto.rules import BankFields
from beancount_ponto.simulator import Simulator
from beancount_ponto.simulator.history import BRUSSELS, Booked, household_history
from beancount_ponto.sync import run_sync
from beancount_ponto.testing import connect

BANK = "Assets:Bank:Checking"
OPTIONS = ConvertOptions(account=BANK, time_zone=BRUSSELS)


def entry_text(items: list[Booked]) -> str:
    entries = []
    for item in items:
        entry = transaction_to_entry(item.transaction, OPTIONS)
        bank, other = entry.postings
        entries.append(entry._replace(postings=[bank, other._replace(account=item.label)]))
    return format_entries(entries)


def timed(what: str, func: object, *args: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = func(*args)  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(f"{what:58} {seconds:8.3f} s")
    return seconds, result


def sync_costs(folder: Path, older: list[Booked], newest: Booked, check: float, runs: int) -> None:
    """Idle and one-new-transaction syncs through the real pipeline, against ``check``."""
    books = folder / "sync"
    books.mkdir()
    (books / "history.beancount").write_text(entry_text(older), encoding="utf-8")
    accounts = sorted({BANK, *(i.label for i in older), "Income:Uncategorized"})
    opens = "".join(f"2015-01-01 open {a}\n" for a in accounts)
    main_file = books / "main.beancount"
    main_file.write_text(
        f'{opens}\ninclude "history.beancount"\ninclude "ponto.beancount"\n', encoding="utf-8"
    )
    today = dt.date(2026, 11, 20)
    with Simulator(account_sizes=[5], today=today) as sim:
        connect(
            main_file,
            api_url=sim.url,
            credentials=Credentials(sim.client_id, sim.client_secret),
            credentials_file=folder / "secrets" / "credentials.json",  # never in the ledger folder
            account_names=[BANK],
        )
        config = load_config(books / "ponto.toml")
        output = config.output_path(main_file)
        client = client_for(config)
        for _ in range(2):  # the first sync learns and books; the second asserts the balance
            run_sync(config, client, ledger=main_file, output=output)
        idle = []
        for _ in range(runs):
            start = time.perf_counter()
            assert run_sync(config, client, ledger=main_file, output=output).new == 0
            idle.append(time.perf_counter() - start)
        one = []
        for index in range(runs):
            tx = newest.transaction
            sim.add_transaction(
                sim.account_ids[0], tx.amount, execution_date=today,
                counterpart_name=tx.counterpart_name, description=tx.description or "",
                remittance_information=f"{tx.remittance_information or ''} {index}",
                counterpartReference=tx.counterpart_reference,
            )  # fmt: skip
            start = time.perf_counter()
            assert run_sync(config, client, ledger=main_file, output=output).new == 1
            one.append(time.perf_counter() - start)
        client.close()
    last = output.read_text(encoding="utf-8").rsplit("\n\n", 1)[-1]
    booked = "learned" if GUESS_META_KEY in last else "not learned"
    print(f"\nend to end (run_sync, medians of {runs}); the last new entry ({booked}):\n{last}")
    idle_s, one_s = statistics.median(idle), statistics.median(one)
    print(f"RESULT idle sync / bean-check = {idle_s:.3f} s / {check:.2f} s = {idle_s / check:.4f}")
    print(
        f"RESULT one new transaction booked from history / bean-check = {one_s:.3f} s / "
        f"{check:.2f} s = {one_s / check:.3f}   (targets <= 0.05 and <= 0.25)"
    )


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--scale", type=float, default=25.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    history = household_history(seed=5, first_year=2016, years=args.years, scale=args.scale)
    *older, newest = history
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        main_file, output = folder / "main.beancount", folder / "ponto.beancount"
        accounts = sorted({BANK, *(i.label for i in history)})
        opens = "".join(f"2015-01-01 open {a}\n" for a in accounts)
        main_file.write_text(f'{opens}\ninclude "ponto.beancount"\n', encoding="utf-8")
        output.write_text(entry_text(older), encoding="utf-8")
        size = output.stat().st_size / 1e6
        print(f"ledger: {len(older)} transactions, output file {size:.1f} MB")
        check, done = timed(
            "bean-check --no-cache",
            subprocess.run,
            [str(Path(sys.executable).parent / "bean-check"), "--no-cache", str(main_file)],
        )
        assert done.returncode == 0  # type: ignore[attr-defined]
        state = cache_path(output)
        banks = frozenset({BANK})

        def cold() -> None:
            cache, _ = refresh(None, main_file, banks)
            save_cache(state, cache)

        def idle() -> list[Path]:
            _cache, read = refresh(load_cache(state), main_file, banks)
            return read

        def one_new() -> str:
            cache, _read = refresh(load_cache(state), main_file, banks)
            save_cache(state, cache)
            model = Model(cache.examples(BANK))
            tx = newest.transaction
            fields = BankFields(
                BANK, tx.amount, tx.currency, tx.counterpart_name, tx.counterpart_reference,
                tx.remittance_information, tx.description,
            )  # fmt: skip
            return book(fields, [], model).account

        cold_s, _ = timed("cold: read every file, save the cache", cold)
        idle_s, read = timed("idle: load the cache, stamps unchanged", idle)
        assert read == [], read
        with output.open("a", encoding="utf-8") as handle:
            handle.write("\n" + entry_text([newest]))
        new_s, account = timed("one new transaction: load, re-read, train, book", one_new)
        print(f"\nbooked the new one to {account} (user: {newest.label})")
        print(f"cold  / bean-check = {cold_s / check:.3f}")
        print(f"idle  / bean-check = {idle_s / check:.3f}   (target <= 0.05)")
        print(f"one   / bean-check = {new_s / check:.3f}   (target <= 0.25)")
        sync_costs(folder, older, newest, check, args.runs)


if __name__ == "__main__":
    main()
