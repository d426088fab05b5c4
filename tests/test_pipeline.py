"""One pipeline: every path books the same entry the same way, over HTTP against the simulator.

``bean-ponto extract``, ``python import.py extract`` (real processes) and
``sync`` are run on the same simulator data and the same ponto.toml, with rules
and a history the learner can use, and must print identical entries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from beancount.core import data
from beancount.parser import parser

from beancount_ponto.config import load_config
from beancount_ponto.errors import ConfigError
from beancount_ponto.learn_cache import GUESS_META_KEY, cache_path
from beancount_ponto.simulator import Simulator
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.test_cli import run_script

IMPORT_SCRIPT = (Path(__file__).parent.parent / "docs" / "examples" / "import.py").read_text()

RENT_IBAN = "BE23 7326 8862 6491"

RULES = f"""
income_account = "Income:Other"
review_flag = "!"

[[rules]]
counterpart_iban = "{RENT_IBAN}"
account = "Expenses:Rent"
narration = "Rent"
tags = ["home"]

[[rules]]
match = "salaris|salary"
sign = "credit"
account = "Income:Salary"
payee = "Employer"
flag = "*"
"""

HISTORY_OPENS = """\
2000-01-01 open Expenses:Groceries
2000-01-01 open Expenses:Fuel
2000-01-01 open Expenses:Rent
2000-01-01 open Income:Salary
"""


def history(days: int = 8) -> str:
    """Booked entries the learner can use: Delhaize is groceries, Total is fuel."""
    lines = [HISTORY_OPENS]
    for index in range(days):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=7 * index)
        lines.append(
            f'{day} * "DELHAIZE BRUSSEL {100 + index}" "Betaling Delhaize 04XX{index:02d}"\n'
            f"  Assets:Bank:Checking  -{10 + index}.50 EUR\n"
            f"  Expenses:Groceries\n"
        )
        lines.append(
            f'{day} * "TOTAL ENERGIES {index}" "Tankstation Total"\n'
            f"  Assets:Bank:Checking  -{40 + index}.00 EUR\n"
            f"  Expenses:Fuel\n"
        )
    return "\n".join(lines)


def later_day() -> dt.date:
    return max(dt.date.today(), TODAY + dt.timedelta(days=2))


@pytest.fixture
def booked(tmp_path: Path, sim: Simulator) -> Workspace:
    """A workspace with rules, a learnable history and new transactions of each kind."""
    ws = make_workspace(tmp_path / "books", sim)
    config = ws.root / "ponto.toml"
    text = config.read_text(encoding="utf-8")
    head, sep, tail = text.partition("[accounts.")
    config.write_text(head + RULES.lstrip() + "\n" + sep + tail, encoding="utf-8")
    (ws.root / "history.beancount").write_text(history(), encoding="utf-8")
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write('include "history.beancount"\n')
    (ws.root / "import.py").write_text(IMPORT_SCRIPT, encoding="utf-8")
    checking = sim.account_ids[0]
    day = later_day()
    sim.add_transaction(
        checking,
        "-850.00",
        execution_date=day,
        counterpart_name="Immo Peeters",
        remittance_information="Huur december",
        counterpartReference=RENT_IBAN.replace(" ", ""),
    )
    sim.add_transaction(
        checking, "2100.00", execution_date=day, counterpart_name="ACME NV",
        remittance_information="Salaris november",
    )  # fmt: skip
    sim.add_transaction(
        checking, "-23.10", execution_date=day, counterpart_name="DELHAIZE BRUSSEL 0412",
        remittance_information="Betaling Delhaize 04XX1234 12:33",
    )  # fmt: skip
    sim.add_transaction(
        checking, "15.00", execution_date=day, counterpart_name="Jan Janssens",
        remittance_information="Terugbetaling etentje",
    )  # fmt: skip
    return Workspace(ws.root, sim, load_config(config))


def entries_of(text: str) -> dict[str, tuple[Any, ...]]:
    """The transactions in ``text`` by ponto_id, as comparable tuples."""
    entries, errors, _ = parser.parse_string(text)
    assert errors == []
    found: dict[str, tuple[Any, ...]] = {}
    for entry in entries:
        if not isinstance(entry, data.Transaction) or "ponto_id" not in entry.meta:
            continue
        meta = sorted(
            (key, str(value))
            for key, value in entry.meta.items()
            if key not in ("filename", "lineno") and not key.startswith("__")
        )
        postings = [(p.account, p.units) for p in entry.postings]
        found[entry.meta["ponto_id"]] = (
            entry.date,
            entry.flag,
            entry.payee,
            entry.narration,
            sorted(entry.tags),
            meta,
            postings,
        )
    return found


def run_import(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PONTO_", "BEAN_PONTO"))}
    return subprocess.run(
        [sys.executable, "import.py", *args],
        cwd=ws.root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def other_leg(entry: tuple[Any, ...]) -> str:
    return str(entry[-1][1][0])


def test_extract_import_script_and_sync_book_identical_entries(booked: Workspace) -> None:
    ws = booked
    cli = run_script(ws.sim, ws.root, "--config", "ponto.toml", "extract")
    assert cli.code == 0, cli.err
    proc = run_import(ws, "extract", "ponto.toml", "-e", "main.beancount")
    assert proc.returncode == 0, proc.stderr
    assert not ws.output.exists()  # neither wrote anything
    result = ws.sync()
    assert result.ok, [a.summary() for a in result.accounts]
    assert bean_check(ws.ledger) == []

    from_cli = entries_of(cli.out)
    from_import = entries_of(proc.stdout)
    from_sync = entries_of(ws.output_text())
    assert len(from_sync) == 124
    assert from_cli == from_sync
    assert from_import == from_sync

    by_narration = {entry[3]: entry for entry in from_sync.values()}
    rent = by_narration["Rent"]  # rule 1: narration rewritten, tag added, usual flag
    assert (other_leg(rent), rent[1], rent[4]) == ("Expenses:Rent", "*", ["home"])
    salary = by_narration["Salaris november"]  # rule 2: payee rewritten
    assert (other_leg(salary), salary[1], salary[2]) == ("Income:Salary", "*", "Employer")
    groceries = by_narration["Betaling Delhaize 04XX1234 12:33"]  # learned: flagged for review
    assert (other_leg(groceries), groceries[1]) == ("Expenses:Groceries", "!")
    assert GUESS_META_KEY in dict(groceries[5])
    assert dict(groceries[5])[GUESS_META_KEY].startswith("learned ")
    refund = by_narration["Terugbetaling etentje"]  # placeholder by sign
    assert (other_leg(refund), refund[1]) == ("Income:Other", "*")
    assert GUESS_META_KEY not in dict(refund[5])
    assert "1970-01-01 open Income:Other\n" in ws.output_text()  # opened like counter_account


def test_learning_can_be_switched_off(booked: Workspace) -> None:
    ws = booked
    config = ws.root / "ponto.toml"
    config.write_text("learn = false\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    ws = Workspace(ws.root, ws.sim, load_config(config))
    result = ws.sync()
    assert result.ok
    entries = entries_of(ws.output_text())
    groceries = next(e for e in entries.values() if e[3] == "Betaling Delhaize 04XX1234 12:33")
    assert (other_leg(groceries), groceries[1]) == ("Expenses:Uncategorized", "*")
    assert not any(GUESS_META_KEY in dict(e[5]) for e in entries.values())
    assert not cache_path(ws.output).exists()


def test_an_idle_sync_never_reads_the_learning_cache(booked: Workspace) -> None:
    ws = booked
    assert ws.sync().ok
    cache = cache_path(ws.output)
    assert cache.exists()
    cache.write_text("not a cache", encoding="utf-8")  # read or rebuilt: this would go
    assert ws.sync().new == 0
    assert cache.read_text(encoding="utf-8") == "not a cache"
    ws.sim.add_transaction(
        ws.sim.account_ids[0], "-31.20", execution_date=later_day(),
        counterpart_name="DELHAIZE LEUVEN 0099", remittance_information="Betaling Delhaize",
    )  # fmt: skip
    result = ws.sync()
    assert result.new == 1
    assert cache.read_text(encoding="utf-8").startswith("{")  # learned again, and kept
    new = [e for e in entries_of(ws.output_text()).values() if e[3] == "Betaling Delhaize"]
    assert [(other_leg(e), e[1]) for e in new] == [("Expenses:Groceries", "!")]
    assert bean_check(ws.ledger) == []


def test_a_bad_rule_or_review_flag_is_refused_on_load(tmp_path: Path) -> None:
    config = tmp_path / "ponto.toml"
    config.write_text('[[rules]]\nmatch = "x"\naccount = "expenses:food"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules\[1\].*not a valid Beancount account"):
        load_config(config)
    config.write_text('review_flag = "?"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="review_flag"):
        load_config(config)
    config.write_text('income_account = "Revenue"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="Revenue"):
        load_config(config)


def test_rules_survive_a_config_save(booked: Workspace) -> None:
    from beancount_ponto.config import save_config

    before = load_config(booked.root / "ponto.toml")
    save_config(before)  # what `bean-ponto link` does
    after = load_config(booked.root / "ponto.toml")
    assert [r.account for r in after.rules] == ["Expenses:Rent", "Income:Salary"]
    assert after.income_account == "Income:Other"
    assert after.rules[0].tags == frozenset({"home"})
    assert after.rules[1].payee == "Employer"


@pytest.mark.slow
def test_smart_importer_wrapping_adds_no_second_leg(booked: Workspace) -> None:
    from beancount import loader
    from smart_importer import PredictPostings

    from beancount_ponto.importer import PontoImporter

    ws = booked
    ws.output.write_text("", encoding="utf-8")  # not synced yet: an empty include
    existing, errors, _ = loader.load_file(str(ws.ledger))
    assert errors == []
    config = str(ws.root / "ponto.toml")
    plain = PontoImporter(config).extract(config, existing)
    wrapped = PredictPostings().wrap(PontoImporter(config))
    assert wrapped.identify(config) is True
    predicted = wrapped.extract(config, existing)
    assert len(predicted) == len(plain) == 124
    for ours, theirs in zip(plain, predicted, strict=True):
        assert isinstance(ours, data.Transaction)
        assert isinstance(theirs, data.Transaction)
        assert len(theirs.postings) == 2  # already booked: smart_importer leaves it alone
        assert [(p.account, p.units) for p in theirs.postings] == [
            (p.account, p.units) for p in ours.postings
        ]
        assert (theirs.flag, theirs.meta.get(GUESS_META_KEY)) == (
            ours.flag,
            ours.meta.get(GUESS_META_KEY),
        )
    learned = [
        e for e in predicted if isinstance(e, data.Transaction) and e.meta.get(GUESS_META_KEY)
    ]
    assert learned and all(e.postings[1].account == "Expenses:Groceries" for e in learned)


def test_status_counts_the_entries_waiting_for_review(booked: Workspace) -> None:
    ws = booked
    assert ws.sync().ok
    entries = entries_of(ws.output_text())
    placeholders = {"Expenses:Uncategorized", "Income:Other"}

    def waiting(items: dict[str, tuple[Any, ...]]) -> int:
        return sum(
            1
            for e in items.values()
            if (e[1] == "!" and GUESS_META_KEY in dict(e[5])) or other_leg(e) in placeholders
        )

    expected = waiting(entries)
    assert 0 < expected < len(entries)  # the rules booked some
    run = run_script(ws.sim, ws.root, "--config", "ponto.toml", "status")
    assert run.code == 0, run.err
    assert f"{expected} entries wait for review" in run.out

    # The user reviews the learned guess (flag *) and books one placeholder by hand.
    text = ws.output_text()
    guessed = next(i for i, e in entries.items() if GUESS_META_KEY in dict(e[5]))
    head, sep, tail = text.partition(f'  ponto_id: "{guessed}"')
    head = head[: head.rindex(" ! ")] + " * " + head[head.rindex(" ! ") + 3 :]
    text = head + sep + tail
    text = text.replace("  Income:Other ", "  Income:Gifts ", 1)
    ws.output.write_text(text, encoding="utf-8")
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write("2000-01-01 open Income:Gifts\n")
    assert bean_check(ws.ledger) == []
    assert waiting(entries_of(ws.output_text())) == expected - 2
    run = run_script(ws.sim, ws.root, "--config", "ponto.toml", "status", "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["to_review"] == expected - 2
