"""Transfers between own accounts, over HTTP against the simulator (issue 9, point 3).

A transfer between two linked accounts arrives once from each bank; each half
is booked on its own bank's date, with its own ``ponto_id``, against the transit
account ``transfer_account``, which clears once both halves are in. An IBAN
under ``[own_accounts]`` is booked straight to its ledger account.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from beancount import loader
from beancount.core import data

from beancount_ponto.config import load_config, save_config
from beancount_ponto.errors import ConfigError
from beancount_ponto.importer import PontoImporter
from beancount_ponto.transfers import OwnAccount, transfer_leg
from tests.conftest import TODAY, Workspace, bean_check
from tests.test_rules import fields

if TYPE_CHECKING:
    from beancount_ponto.simulator import Simulator

TRANSIT = "Assets:Transfers"
CHECKING, SAVINGS = "Assets:Bank:Checking", "Assets:Bank:Savings"
OTHER_IBAN = "BE71 0961 2345 6769"


def iban(sim: Simulator, index: int, *, spaced: bool = False) -> str:
    """The IBAN of simulator account ``index``; ``spaced``: grouped by four, lower case."""
    ref: str = sim.account(sim.account_ids[index])["attributes"]["reference"]
    return " ".join(re.findall(".{1,4}", ref.lower())) if spaced else ref


def half(sim: Simulator, src: int, dst: int, amount: str, day: dt.date) -> str:
    """One bank's half of a transfer from account ``src`` (its counterpart is ``dst``)."""
    return sim.add_transaction(
        sim.account_ids[src],
        amount,
        execution_date=day,
        counterpart_name="Jan Peeters",
        remittance_information="Sparen",
        counterpartReference=iban(sim, dst, spaced=src == 1),
    )


def ledger_entries(ws: Workspace) -> dict[str, data.Transaction]:
    """The ledger's transactions by ``ponto_id``, checking that each id appears once."""
    entries, errors, _ = loader.load_file(str(ws.ledger))
    assert errors == []
    found: dict[str, data.Transaction] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction) and "ponto_id" in entry.meta:
            assert entry.meta["ponto_id"] not in found
            found[entry.meta["ponto_id"]] = entry
    return found


def transit_balance(ws: Workspace) -> Decimal:
    entries, errors, _ = loader.load_file(str(ws.ledger))
    assert errors == []
    total = Decimal(0)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                if posting.account == TRANSIT and posting.units is not None:
                    total += Decimal(posting.units.number or 0)
    return total


def assert_transfer(ws: Workspace, ids: list[str], days: list[dt.date]) -> None:
    """Each id once, on its bank's day, against the transit account only."""
    text = ws.output_text()
    booked = ledger_entries(ws)
    for tx_id, day in zip(ids, days, strict=True):
        assert text.count(f'ponto_id: "{tx_id}"') == 1
        entry = booked[tx_id]
        assert entry.date == day
        assert entry.flag == "*"  # a fact, not a guess: nothing to review
        accounts = [p.account for p in entry.postings]
        assert accounts[1:] == [TRANSIT]
        assert not any(a.startswith(("Income", "Expenses")) for a in accounts)


def test_halves_of_the_same_day_and_of_the_next_day_clear_the_transit_account(
    ws: Workspace,
) -> None:
    sim = ws.sim
    day = TODAY + dt.timedelta(days=1)
    same = [half(sim, 0, 1, "-100.00", day), half(sim, 1, 0, "100.00", day)]
    nxt = [half(sim, 1, 0, "-25.50", day), half(sim, 0, 1, "25.50", day + dt.timedelta(days=1))]
    ws.sync()
    assert_transfer(ws, same, [day, day])
    assert_transfer(ws, nxt, [day, day + dt.timedelta(days=1)])
    assert f"open {TRANSIT}" in ws.output_text()  # opened like the counter account
    assert transit_balance(ws) == 0
    assert ledger_entries(ws)[same[0]].postings[0].account == CHECKING
    assert ledger_entries(ws)[same[1]].postings[0].account == SAVINGS
    assert bean_check(ws.ledger) == []  # both accounts' balance assertions hold


def test_the_second_half_in_a_later_run_completes_the_transfer(ws: Workspace) -> None:
    sim = ws.sim
    day = TODAY + dt.timedelta(days=1)
    first = half(sim, 0, 1, "-300.00", day)
    ws.sync()
    assert transit_balance(ws) == Decimal("300.00")  # in transit: only one bank has it yet
    assert bean_check(ws.ledger) == []
    second = half(sim, 1, 0, "300.00", day + dt.timedelta(days=1))
    ws.sync()
    assert_transfer(ws, [first, second], [day, day + dt.timedelta(days=1)])
    assert transit_balance(ws) == 0
    before = ws.output_text()
    ws.sync()  # a re-run changes nothing
    assert ws.output_text() == before
    assert bean_check(ws.ledger) == []


def test_the_importer_books_the_same_other_leg_as_sync(ws: Workspace) -> None:
    sim = ws.sim
    day = TODAY + dt.timedelta(days=1)
    ids = [half(sim, 0, 1, "-40.00", day), half(sim, 1, 0, "40.00", day)]
    ws.output.write_text("", encoding="utf-8")
    existing, errors, _ = loader.load_file(str(ws.ledger))
    assert errors == []
    config = str(ws.root / "ponto.toml")
    extracted = {
        e.meta["ponto_id"]: e
        for e in PontoImporter(config).extract(config, existing)
        if isinstance(e, data.Transaction)
    }
    ws.sync()
    synced = ledger_entries(ws)
    for tx_id in ids:
        assert [(p.account, p.units) for p in extracted[tx_id].postings] == [
            (p.account, p.units) for p in synced[tx_id].postings
        ]
        assert extracted[tx_id].postings[1].account == TRANSIT


def test_an_own_account_iban_goes_straight_to_its_ledger_account(ws: Workspace) -> None:
    path = ws.root / "ponto.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + f'\n[own_accounts]\n"{OTHER_IBAN}" = "Assets:Bank:Other"\n',
        encoding="utf-8",
    )
    ws.config = load_config(path)
    tx_id = ws.sim.add_transaction(
        ws.sim.account_ids[0],
        "-60.00",
        execution_date=TODAY + dt.timedelta(days=1),
        counterpartReference="be71096123456769",
    )
    ws.sync()
    entry = ledger_entries(ws)[tx_id]
    assert [p.account for p in entry.postings] == [CHECKING, "Assets:Bank:Other"]
    assert entry.flag == "*"
    assert "open Assets:Bank:Other" in ws.output_text()
    assert bean_check(ws.ledger) == []


def test_transfers_beat_rules_and_the_transit_account_is_configurable(ws: Workspace) -> None:
    path = ws.root / "ponto.toml"
    path.write_text(
        'transfer_account = "Assets:Transit"\n'
        + path.read_text(encoding="utf-8")
        + f'\n[[rules]]\ncounterpart_iban = "{iban(ws.sim, 1)}"\naccount = "Expenses:Rent"\n'
        '[[rules]]\nmatch = "sparen"\naccount = "Expenses:Savings"\n',
        encoding="utf-8",
    )
    ws.config = load_config(path)
    tx_id = half(ws.sim, 0, 1, "-10.00", TODAY + dt.timedelta(days=1))
    ws.sync()
    assert [p.account for p in ledger_entries(ws)[tx_id].postings] == [CHECKING, "Assets:Transit"]
    assert bean_check(ws.ledger) == []


def test_a_saved_config_keeps_transfer_account_and_own_accounts(ws: Workspace) -> None:
    path = ws.root / "ponto.toml"
    path.write_text(
        'transfer_account = "Assets:Transit"\n'
        + path.read_text(encoding="utf-8")
        + f'\n[own_accounts]\n"{OTHER_IBAN}" = "Assets:Bank:Other"  # my other bank\n',
        encoding="utf-8",
    )
    save_config(load_config(path))  # what `bean-ponto link` does
    assert "# my other bank" in path.read_text(encoding="utf-8")
    after = load_config(path)
    assert after.transfer_account == "Assets:Transit"
    assert after.own_accounts == {OTHER_IBAN: "Assets:Bank:Other"}


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('"BE71 0961 2345 6769" = "bank other"', "not a Beancount account name"),
        ('"BE71 0961 2345 6769" = "Assets:Bank:Savings"', "is a linked account"),
        ('"BE71 0961 2345 6769" = "Assets:A"\n"be71096123456769" = "Assets:B"', "same IBAN"),
    ],
)
def test_bad_own_accounts_are_refused_on_load(ws: Workspace, table: str, problem: str) -> None:
    path = ws.root / "ponto.toml"
    path.write_text(
        path.read_text(encoding="utf-8") + f"\n[own_accounts]\n{table}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=problem) as info:
        load_config(path)
    assert "[own_accounts]" in str(info.value)


def test_an_iban_shared_by_links_is_a_transfer_only_to_another_link() -> None:
    shared = {"BE11194684174948": OwnAccount(TRANSIT, frozenset({CHECKING}))}
    own = fields(counterpart_iban="BE11 1946 8417 4948")
    assert transfer_leg(shared, own) is None  # its own IBAN, no other link has it
    shared["BE11194684174948"] = OwnAccount(TRANSIT, frozenset({CHECKING, "Assets:Bank:Dollars"}))
    assert transfer_leg(shared, own) == TRANSIT
    assert transfer_leg(shared, fields(counterpart_iban=None)) is None


def test_the_transit_account_is_never_learned(ws: Workspace) -> None:
    """Transfers are recognised by IBAN: a look-alike without one keeps its placeholder."""
    history = [f"2000-01-01 open {TRANSIT}\n"]
    for index in range(8):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=7 * index)
        history.append(
            f'{day} * "Jan Peeters" "Sparen"\n  {CHECKING}  -{10 + index}.00 EUR\n  {TRANSIT}\n'
        )
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write("\n" + "\n".join(history))
    tx_id = ws.sim.add_transaction(
        ws.sim.account_ids[0],
        "-12.00",
        execution_date=TODAY + dt.timedelta(days=1),
        counterpart_name="Jan Peeters",
        remittance_information="Sparen",
        counterpartReference=None,
    )
    ws.sync()
    assert [p.account for p in ledger_entries(ws)[tx_id].postings] == [
        CHECKING,
        "Expenses:Uncategorized",
    ]
    assert bean_check(ws.ledger) == []
