"""What learning costs on a large ledger, as a share of ``bean-check --no-cache`` on it.

Writes a ledger of about 100,000 booked transactions (the noisy household
history, scaled) into an output file included by a main file, then times:

* ``bean-check --no-cache`` on it (the yardstick);
* a cold start: reading every file and saving the cache;
* an idle run: loading the cache and finding every stamp unchanged (no ledger read);
* one new transaction: the output file gained one entry since the cache was
  saved; loading the cache, reading what changed, training and booking it.

Run: ``python benchmarks/learn_cost.py [--years 10] [--scale 25]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from beancount_ponto.booking import book
from beancount_ponto.convert import ConvertOptions, format_entries, transaction_to_entry
from beancount_ponto.learn import Model
from beancount_ponto.learn_cache import cache_path, load_cache, refresh, save_cache
from beancount_ponto.rules import BankFields
from beancount_ponto.simulator.history import BRUSSELS, Booked, household_history

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--scale", type=float, default=25.0)
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


if __name__ == "__main__":
    main()
