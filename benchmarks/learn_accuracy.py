"""Accuracy of the learned other leg: beancount_ponto.learn against smart_importer.

Generates a noisy multi-year Belgian household history
(:func:`beancount_ponto.simulator.history.household_history`), converts it with
bean-ponto's own converter, books the other leg as the user did, writes the
earlier years as a ledger and holds out the last year. Both predictors learn
from that same ledger:

* ours reads it textually through ``learn_cache.refresh`` and predicts from
  the bank's fields (counterpart name and IBAN, communication, description);
* smart_importer's ``PredictPostings`` (SVC on payee, narration and day of
  month) wraps a tiny beangulp importer whose ``extract`` returns the held-out
  entries with only the bank posting, and is given the loaded ledger as
  ``existing``; a second run adds ``meta.counterpart_iban`` to its features.

Prints the accuracy over every held-out transaction (a placeholder counts as
wrong), the coverage (share guessed) and the precision of the guesses, and
the training and prediction times.

Run: ``pip install -e ".[bench]" && python benchmarks/learn_accuracy.py [--seed N] [--years N]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from beancount import loader
from beancount.core import data
from beangulp.importer import Importer

from beancount_ponto.convert import ConvertOptions, clean_text, format_entries, transaction_to_entry
from beancount_ponto.learn import DEFAULT_THRESHOLD, Model
from beancount_ponto.learn_cache import refresh
from beancount_ponto.rules import BankFields
from beancount_ponto.simulator.history import BRUSSELS, Booked, household_history

BANK = "Assets:Bank:Checking"
OPTIONS = ConvertOptions(account=BANK, time_zone=BRUSSELS)


def booked_entry(item: Booked) -> data.Transaction:
    entry = transaction_to_entry(item.transaction, OPTIONS)
    bank, other = entry.postings
    return entry._replace(postings=[bank, other._replace(account=item.label)])


def bank_fields(item: Booked) -> BankFields:
    tx = item.transaction
    return BankFields(
        linked_account=BANK,
        amount=tx.amount,
        currency=tx.currency,
        counterpart_name=clean_text(tx.counterpart_name),
        counterpart_iban=clean_text(tx.counterpart_reference),
        communication=clean_text(tx.remittance_information),
        description=clean_text(tx.description),
    )


def write_ledger(folder: Path, items: list[Booked], first_year: int) -> Path:
    accounts = sorted({BANK, *(i.label for i in items)})
    opens = "".join(f"{first_year}-01-01 open {a}\n" for a in accounts)
    main = folder / "main.beancount"
    body = format_entries(booked_entry(i) for i in items)
    main.write_text(f'option "operating_currency" "EUR"\n\n{opens}\n{body}', encoding="utf-8")
    return main


class HeldOut(Importer):
    """A beangulp importer whose extract returns the held-out year, bank posting only."""

    def __init__(self, entries: list[data.Transaction]) -> None:
        self.entries = entries

    def identify(self, filepath: str) -> bool:
        return True

    def account(self, filepath: str) -> str:
        return BANK

    def extract(self, filepath: str, existing: list[Any]) -> list[Any]:
        return [e._replace(postings=e.postings[:1]) for e in self.entries]


def run_smart_importer(main: Path, test: list[Booked], with_iban: bool) -> tuple[list[str], float]:
    from smart_importer import PredictPostings

    class WithIban(PredictPostings):
        weights: dict[str, float] = {  # noqa: RUF012 - smart_importer's own shape
            **PredictPostings.weights,
            "meta.counterpart_iban": 0.8,
        }

    entries, errors, _ = loader.load_file(str(main))
    assert not errors, errors[:3]
    held = [booked_entry(i) for i in test]
    predictor = WithIban() if with_iban else PredictPostings()
    start = time.perf_counter()
    result = predictor.wrap(HeldOut(held)).extract(str(main), existing=entries)
    seconds = time.perf_counter() - start
    guesses = []
    for entry in result:
        assert isinstance(entry, data.Transaction)
        others = [p.account for p in entry.postings if p.account != BANK]
        guesses.append(others[0] if others else "")
    return guesses, seconds


def score(guesses: list[str | None], test: list[Booked]) -> tuple[float, float, float]:
    right = sum(g == i.label for g, i in zip(guesses, test, strict=True))
    made = sum(bool(g) for g in guesses)
    return right / len(test), made / len(test), right / made if made else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--first-year", type=int, default=2022)
    args = parser.parse_args()
    history = household_history(seed=args.seed, first_year=args.first_year, years=args.years)
    last = args.first_year + args.years - 1
    train = [i for i in history if i.transaction.execution_date.astimezone(BRUSSELS).year < last]
    test = [i for i in history if i.transaction.execution_date.astimezone(BRUSSELS).year == last]
    print(f"history: {len(history)} transactions, train {len(train)} (<{last}), test {len(test)}")
    with tempfile.TemporaryDirectory() as tmp:
        ledger = write_ledger(Path(tmp), train, args.first_year)
        start = time.perf_counter()
        cache, _read = refresh(None, ledger, frozenset({BANK}))
        model = Model(cache.examples(BANK))
        train_s = time.perf_counter() - start
        fields = [bank_fields(i) for i in test]
        rows = []
        for threshold in (0.0, DEFAULT_THRESHOLD):
            start = time.perf_counter()
            found = [model.predict(f, threshold=threshold) for f in fields]
            per = (time.perf_counter() - start) / len(fields)
            guesses = [p.account if p else None for p in found]
            rows.append((f"beancount_ponto.learn, threshold {threshold}", *score(guesses, test)))
        print(f"ours: read ledger + train {train_s:.3f} s, predict {per * 1e6:.0f} us/transaction")
        for with_iban in (False, True):
            guesses_si, seconds = run_smart_importer(ledger, test, with_iban)
            name = "smart_importer PredictPostings" + (" + meta.counterpart_iban" * with_iban)
            rows.append((name, *score(list(guesses_si), test)))
            print(f"{name}: load not counted, train + predict {seconds:.3f} s")
    print(f"\n{'predictor':58} {'accuracy':>9} {'coverage':>9} {'precision':>9}")
    for name, accuracy, coverage, precision in rows:
        print(f"{name:58} {accuracy:9.1%} {coverage:9.1%} {precision:9.1%}")


if __name__ == "__main__":
    main()
