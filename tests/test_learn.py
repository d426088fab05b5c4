"""Learning the other leg from the ledger's history, its cache, and booking with rules first."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from beancount.core import account as bc_account

from beancount_ponto import learn_cache
from beancount_ponto.booking import book
from beancount_ponto.convert import ConvertOptions, clean_text, format_entries, transaction_to_entry
from beancount_ponto.learn import Example, Model, features_of, words
from beancount_ponto.learn_cache import (
    LearnCache,
    cache_path,
    examples_from_text,
    load_cache,
    refresh,
    save_cache,
)
from beancount_ponto.rules import BankFields, parse_rules
from beancount_ponto.simulator.history import BRUSSELS, Booked, household_history
from tests.conftest import bean_check

BANK = "Assets:Bank:Checking"
BANKS = frozenset({BANK})
PLACEHOLDERS = frozenset({"Expenses:Uncategorized", "Income:Uncategorized"})


def fields(**kw: object) -> BankFields:
    base: dict[str, object] = {"linked_account": BANK, "amount": Decimal("-10"), "currency": "EUR"}
    base.update(kw)
    return BankFields(**base)  # type: ignore[arg-type]


def example(day: int, label: str, **kw: object) -> Example:
    return Example(day, label, features_of(fields(**kw)))


def bank_fields(item: Booked) -> BankFields:
    tx = item.transaction
    return BankFields(
        BANK,
        tx.amount,
        tx.currency,
        clean_text(tx.counterpart_name),
        clean_text(tx.counterpart_reference),
        clean_text(tx.remittance_information),
        clean_text(tx.description),
    )


def write_history(folder: Path, items: list[Booked]) -> Path:
    options = ConvertOptions(account=BANK, time_zone=BRUSSELS)
    entries = []
    for item in items:
        entry = transaction_to_entry(item.transaction, options)
        bank, other = entry.postings
        entries.append(entry._replace(postings=[bank, other._replace(account=item.label)]))
    opens = "".join(f"2020-01-01 open {a}\n" for a in sorted({BANK, *(i.label for i in items)}))
    main = folder / "main.beancount"
    main.write_text(f"{opens}\n{format_entries(entries)}", encoding="utf-8")
    return main


# --- normalisation ----------------------------------------------------------------------------


def test_words_drop_card_numbers_dates_times_shop_numbers_and_fold_case_and_accents() -> None:
    text = (
        "BETALING MET DEBETKAART NUMMER 6703 04XX XXXX 1234 DELHAIZE 4521 UCCLE 12/03/2024 OM 17.45"
    )
    assert words(text) == ["betaling", "debetkaart", "nummer", "delhaize", "uccle", "om"]
    assert words("Bancontact Café Août ****1234 17h45 kaart") == [
        "bancontact",
        "cafe",
        "aout",
        "kaart",
    ]
    assert words("PAIEMENT MAESTRO 6703XXXXXXXX1234 DELHAIZE123") == [
        "paiement",
        "maestro",
        "delhaize",
    ]
    assert words(None) == [] and words("") == []


def test_features_join_name_and_communication_words_and_normalise_the_iban() -> None:
    by_name = features_of(fields(counterpart_name="Colruyt", counterpart_iban="be12 3456"))
    in_text = features_of(fields(communication="Bancontact COLRUYT 0123 HALLE"))
    assert "w:colruyt" in by_name and "w:colruyt" in in_text
    assert "i:BE123456" in by_name and "is:BE123456:debit" in by_name
    assert "a:-10" in by_name


# --- the model --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history() -> tuple[list[Booked], list[Booked]]:
    items = household_history(seed=3)
    last = max(i.transaction.execution_date.astimezone(BRUSSELS).year for i in items)
    train = [i for i in items if i.transaction.execution_date.astimezone(BRUSSELS).year < last]
    test = [i for i in items if i.transaction.execution_date.astimezone(BRUSSELS).year == last]
    return train, test


def test_learned_accuracy_on_a_noisy_held_out_year(
    history: tuple[list[Booked], list[Booked]], tmp_path: Path
) -> None:
    train, test = history
    main = write_history(tmp_path, train)
    assert bean_check(main) == []
    cache, _ = refresh(None, main, BANKS)
    model = Model(cache.examples(BANK))
    assert model.size == len(train)
    always = [model.predict(bank_fields(i), threshold=0.0) for i in test]
    right = sum(p is not None and p.account == i.label for p, i in zip(always, test, strict=True))
    assert right / len(test) >= 0.87
    guesses = [(model.predict(bank_fields(i)), i.label) for i in test]
    made = [(p, label) for p, label in guesses if p is not None]
    assert 0.8 <= len(made) / len(test) < 1.0  # some are left on the placeholder
    assert sum(p.account == label for p, label in made) / len(made) >= 0.92


def test_card_payment_with_merchant_only_in_the_communication() -> None:
    model = Model(
        [example(1, "Expenses:Food:Groceries", counterpart_name="DELHAIZE LE LION SA")] * 3
        + [example(1, "Expenses:Car:Fuel", communication="PAIEMENT MAESTRO TOTAL N64 HALLE")] * 3
    )
    guess = model.predict(
        fields(communication="Bancontact AD DELHAIZE 0452 FOREST 12-03 17:45 kaart ****1234")
    )
    assert guess is not None and guess.account == "Expenses:Food:Groceries"
    assert guess.note.startswith("learned ") and guess.note.endswith(" from 3 similar")


def test_an_exact_iban_outweighs_a_differently_spelled_name() -> None:
    model = Model(
        [example(1, "Expenses:Rent", counterpart_name="PEETERS JAN", counterpart_iban="BE23 1")] * 4
        + [example(1, "Expenses:Gifts", counterpart_name="Jan Peeters", communication="cadeau")] * 2
    )
    guess = model.predict(fields(counterpart_name="Mr Jan Peeters", counterpart_iban="BE231"))
    assert guess is not None and guess.account == "Expenses:Rent"


def test_unknown_or_ambiguous_transactions_get_no_guess_and_the_threshold_is_configurable() -> None:
    model = Model(
        [example(1, "Expenses:Books", counterpart_name="bol.com")] * 3
        + [example(1, "Expenses:Household", counterpart_name="bol.com")] * 2
    )
    assert model.predict(fields(counterpart_name="Brand new shop")) is None
    assert model.predict(fields(counterpart_name="bol.com")) is None
    loose = model.predict(fields(counterpart_name="bol.com"), threshold=0.0)
    assert loose is not None and loose.account == "Expenses:Books"
    assert Model([]).predict(fields(counterpart_name="bol.com"), threshold=0.0) is None


def test_recent_bookings_count_more_than_old_ones() -> None:
    old = [example(day, "Expenses:Leisure", counterpart_name="Spotify") for day in range(10)]
    new = [example(2000 + day, "Expenses:Music", counterpart_name="Spotify") for day in range(5)]
    guess = Model(old + new).predict(fields(counterpart_name="Spotify"), threshold=0.0)
    assert guess is not None and guess.account == "Expenses:Music"
    flat = Model(old + new, half_life_days=0).predict(
        fields(counterpart_name="Spotify"), threshold=0
    )
    assert flat is not None and flat.account == "Expenses:Leisure"


# --- reading the ledger -----------------------------------------------------------------------

LEDGER = """\
2024-01-01 open Assets:Bank:Checking
2024-01-01 open Assets:Bank:Savings
2024-01-01 open Expenses:Food
2024-01-01 open Expenses:Household
2024-01-01 open Expenses:Uncategorized
2024-01-01 open Income:Salary
2024-01-01 open Liabilities:Card

2024-02-01 * "AD DELHAIZE" "Bancontact 12-03 \\"UCCLE\\" kaart ****1234" #food
  ponto_id: "tx-1"
  counterpart_iban: "BE11 2222 3333 4444"
  description: "Bancontact"
  Assets:Bank:Checking  -12.50 EUR
  Expenses:Food  12.50 EUR

2024-02-02 txn "Only narration"
  Assets:Bank:Checking  -3 EUR
  Expenses:Food

2024-02-03 * "IKEA" "big shop, mostly household"
  Expenses:Food  10.00 EUR
  Expenses:Household  90.00 EUR
  Assets:Bank:Checking

2024-02-04 * "still a placeholder"
  ponto_id: "tx-4"
  Assets:Bank:Checking  -5 EUR
  Expenses:Uncategorized  5 EUR

2024-02-05 ! "ACME" "guess not reviewed"
  ponto_id: "tx-5"
  ponto_guess: "learned 0.93 from 14 similar"
  Assets:Bank:Checking  3000 EUR
  Income:Salary  -3000 EUR

2024-02-06 * "ACME" "guess reviewed"
  ponto_id: "tx-6"
  ponto_guess: "learned 0.93 from 14 similar"
  Assets:Bank:Checking  3000 EUR
  Income:Salary  -3000 EUR

2024-02-07 * "Not the bank" "card"
  Liabilities:Card  -8 EUR
  Expenses:Food  8 EUR

2024-02-08 * "Sparen"
  Assets:Bank:Checking  -100 EUR
  Assets:Bank:Savings  100 EUR
"""


def test_examples_from_text_reads_what_the_user_booked(tmp_path: Path) -> None:
    main = tmp_path / "main.beancount"
    main.write_text(LEDGER, encoding="utf-8")
    assert bean_check(main) == []
    banks = frozenset({BANK, "Assets:Bank:Savings"})
    found = examples_from_text(LEDGER, banks, skip_labels=PLACEHOLDERS)
    checking = found[BANK]
    assert [e.label for e in checking] == [
        "Expenses:Food",
        "Expenses:Food",
        "Expenses:Household",  # the largest other leg of a split
        "Income:Salary",  # reviewed guess only: tx-5 and the placeholder tx-4 are left out
        "Assets:Bank:Savings",
    ]
    first = checking[0]
    assert first.features == features_of(
        fields(
            amount=Decimal("-12.50"),
            counterpart_name="AD DELHAIZE",
            counterpart_iban="BE11 2222 3333 4444",
            communication='Bancontact 12-03 "UCCLE" kaart ****1234',
            description="Bancontact",
        )
    )
    assert "a:-3" in checking[1].features
    assert "a:-100" in checking[2].features  # the auto-balanced bank posting of the split
    assert [e.label for e in found["Assets:Bank:Savings"]] == [BANK]


# --- the cache --------------------------------------------------------------------------------


def ledger_with_moved_entries(tmp_path: Path) -> tuple[Path, Path]:
    main = tmp_path / "main.beancount"
    moved = tmp_path / "2024" / "food.beancount"
    moved.parent.mkdir()
    main.write_text(LEDGER.split("\n\n", 1)[0] + '\n\ninclude "2024/*.beancount"\n')
    moved.write_text(LEDGER.split("\n\n", 1)[1])
    return main, moved


def test_cache_round_trips_and_an_unchanged_ledger_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main, moved = ledger_with_moved_entries(tmp_path)
    assert bean_check(main) == []
    cache, read = refresh(None, main, BANKS, skip_labels=PLACEHOLDERS)
    assert read == [main.resolve(), moved.resolve()]
    assert len(cache.examples(BANK)) == 5
    path = cache_path(tmp_path / "ponto.beancount")
    save_cache(path, cache)
    loaded = load_cache(path)
    assert loaded is not None and loaded.examples(BANK) == cache.examples(BANK)

    def no_reading(*_args: object, **_kw: object) -> object:
        raise AssertionError("the ledger was read although nothing changed")

    fresh = load_cache(path)
    with monkeypatch.context() as patch:
        patch.setattr(learn_cache, "examples_from_text", no_reading)
        patch.setattr(Path, "read_text", no_reading)
        patch.setattr(Path, "read_bytes", no_reading)
        again, read = refresh(fresh, main, BANKS, skip_labels=PLACEHOLDERS)
    assert read == []
    assert all(f.decoded is None for f in again.files.values())  # not even decoded
    assert again.examples(BANK) == cache.examples(BANK)


def test_a_changed_file_is_read_again_and_only_that_one(tmp_path: Path) -> None:
    main, moved = ledger_with_moved_entries(tmp_path)
    cache, _ = refresh(None, main, BANKS, skip_labels=PLACEHOLDERS)
    with moved.open("a", encoding="utf-8") as handle:
        handle.write('\n2024-03-01 * "COLRUYT"\n  Assets:Bank:Checking  -40 EUR\n  Expenses:Food\n')
    stat = moved.stat()
    os.utime(moved, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert bean_check(main) == []
    cache, read = refresh(load_cache_from(cache, tmp_path), main, BANKS, skip_labels=PLACEHOLDERS)
    assert read == [moved.resolve()]
    assert len(cache.examples(BANK)) == 6
    assert "w:colruyt" in cache.examples(BANK)[-1].features


def bump(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def parsed_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = learn_cache.examples_from_text

    def spy(text: str, *args: object, **kw: object) -> object:
        seen.append(text)
        return real(text, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(learn_cache, "examples_from_text", spy)
    return seen


def test_an_append_of_whole_entries_parses_only_the_new_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main, moved = ledger_with_moved_entries(tmp_path)
    cache, _ = refresh(None, main, BANKS, skip_labels=PLACEHOLDERS)
    new = '\n2024-03-01 * "COLRUYT"\n  Assets:Bank:Checking  -40 EUR\n  Expenses:Food\n'
    with moved.open("a", encoding="utf-8") as handle:
        handle.write(new)
    seen = parsed_texts(monkeypatch)
    cache, read = refresh(load_cache_from(cache, tmp_path), main, BANKS, skip_labels=PLACEHOLDERS)
    assert read == [moved.resolve()] and seen == [new]
    assert [e.label for e in cache.examples(BANK)][-2:] == ["Assets:Bank:Savings", "Expenses:Food"]
    assert cache.files[str(moved.resolve())].size == moved.stat().st_size


@pytest.mark.parametrize("kept", ["in memory", "saved and loaded", "loaded and used"])
def test_an_append_gives_the_same_examples_however_the_cache_was_kept(
    tmp_path: Path, kept: str
) -> None:
    main, moved = ledger_with_moved_entries(tmp_path)
    cache, _ = refresh(None, main, BANKS, skip_labels=PLACEHOLDERS)
    if kept != "in memory":
        cache = load_cache_from(cache, tmp_path) or cache
    if kept == "loaded and used":
        cache.examples(BANK)
    with moved.open("a", encoding="utf-8") as handle:
        handle.write('\n2024-03-01 * "ALDI"\n  Assets:Bank:Checking  -9 EUR\n  Expenses:Food\n')
    grown, _ = refresh(cache, main, BANKS, skip_labels=PLACEHOLDERS)
    fresh, _ = refresh(None, main, BANKS, skip_labels=PLACEHOLDERS)
    assert grown.examples(BANK) == fresh.examples(BANK)
    again = load_cache_from(grown, tmp_path)
    assert again is not None and again.examples(BANK) == fresh.examples(BANK)


@pytest.mark.parametrize(
    "change",
    [
        "edit",  # an entry in the middle is recategorised (the file grows, the prefix differs)
        "continue",  # a posting is added to the last entry: the tail is no whole entry
    ],
)
def test_other_changes_read_the_whole_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    main, moved = ledger_with_moved_entries(tmp_path)
    cache, _ = refresh(None, main, BANKS, skip_labels=PLACEHOLDERS)
    text = moved.read_text(encoding="utf-8")
    if change == "edit":
        text = text.replace("  Expenses:Food  12.50 EUR", "  Expenses:Household  12.50 EUR")
        first, expected = True, "Expenses:Household"
    else:
        text = text.replace("  Assets:Bank:Savings  100 EUR\n", "  Assets:Bank:Savings  70 EUR\n")
        text += "  Expenses:Household  30 EUR\n"
        first, expected = False, "Assets:Bank:Savings"  # still the largest other leg
    moved.write_text(text, encoding="utf-8")
    bump(moved)
    assert bean_check(main) == []
    seen = parsed_texts(monkeypatch)
    cache, read = refresh(load_cache_from(cache, tmp_path), main, BANKS, skip_labels=PLACEHOLDERS)
    assert read == [moved.resolve()] and seen == [text]
    labels = [e.label for e in cache.examples(BANK)]
    assert labels[0 if first else -1] == expected
    assert len(labels) == 5


def load_cache_from(cache: LearnCache, tmp_path: Path) -> LearnCache | None:
    path = tmp_path / "state" / "learned.json"
    save_cache(path, cache)
    return load_cache(path)


def test_other_version_other_accounts_or_garbage_start_afresh(tmp_path: Path) -> None:
    main, _ = ledger_with_moved_entries(tmp_path)
    cache, _ = refresh(None, main, BANKS, skip_labels=PLACEHOLDERS)
    path = tmp_path / "learned.json"
    path.write_text(cache.to_json().replace('"version":1', '"version":0'))
    assert load_cache(path) is None
    path.write_text("{not json")
    assert load_cache(path) is None
    assert load_cache(tmp_path / "absent.json") is None
    broken = LearnCache.from_json(cache.to_json().replace('\\"Expenses:Food\\",', ""))
    with pytest.raises(ValueError, match="not a learning cache"):
        broken.examples(BANK)
    other, read = refresh(cache, main, frozenset({"Assets:Bank:Savings"}))
    assert len(read) == 2 and other.examples(BANK) == []
    assert [e.label for e in other.examples("Assets:Bank:Savings")] == [BANK]


# --- booking ----------------------------------------------------------------------------------


def test_book_rule_beats_guess_beats_placeholder_by_sign() -> None:
    rules = parse_rules(
        [{"match": "netflix", "account": "Expenses:Streaming", "tags": ["tv"]}],
        is_valid_account=bc_account.is_valid,
    )
    model = Model([example(1, "Expenses:Food", counterpart_name="Delhaize netflix")] * 5)
    by_rule = book(fields(counterpart_name="Delhaize Netflix"), rules, model)
    assert (by_rule.account, by_rule.source, by_rule.note) == (
        "Expenses:Streaming",
        "rule",
        "rule 1",
    )
    assert by_rule.tags == frozenset({"tv"}) and by_rule.flag is None
    guessed = book(fields(counterpart_name="Delhaize"), rules, model, review_flag="*")
    assert (guessed.account, guessed.source, guessed.flag) == ("Expenses:Food", "learned", "*")
    assert guessed.note is not None and guessed.note.endswith("from 5 similar")
    assert book(fields(counterpart_name="Delhaize"), rules, model).flag == "!"
    debit = book(fields(counterpart_name="Unknown"), rules, model, counter_account="Expenses:Todo")
    assert (debit.account, debit.source, debit.note) == ("Expenses:Todo", "placeholder", None)
    credit = book(fields(counterpart_name="Unknown", amount=Decimal("5")), rules, None)
    assert credit.account == "Income:Uncategorized"
    unsure = book(fields(counterpart_name="Delhaize"), [], model, threshold=1.0)
    assert unsure.source == "placeholder"
