"""The simulator's ``household`` data set (the demo's bank) over real HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests

from beancount_ponto.simulator import Simulator
from beancount_ponto.simulator.__main__ import build_parser, simulator_from_args
from beancount_ponto.simulator.household import SERVED_DAYS, earlier_bookings, household_items

DAY = dt.date(2026, 3, 14)


def test_a_transfer_between_own_accounts_names_the_other_account_on_both_sides() -> None:
    with Simulator(today=DAY, dataset="household") as sim:
        checking, savings, _ = (sim.account(a)["attributes"] for a in sim.account_ids)
        out = [
            t["attributes"]
            for t in sim.transactions(sim.account_ids[0])
            if t["attributes"]["counterpartReference"] == savings["reference"]
        ]
        into = [
            t["attributes"]
            for t in sim.transactions(sim.account_ids[1])
            if t["attributes"]["counterpartReference"] == checking["reference"]
        ]
    assert len(out) >= 11
    assert sorted((t["executionDate"], -t["amount"]) for t in out) == sorted(
        (t["executionDate"], t["amount"]) for t in into
    )


def test_ids_stay_the_same_when_the_served_year_moves_on() -> None:
    today = Simulator(today=DAY, dataset="household")
    tomorrow = Simulator(today=DAY + dt.timedelta(days=1), dataset="household")
    for index in range(3):
        old = {t["id"] for t in today.transactions(today.account_ids[index])}
        new = {t["id"] for t in tomorrow.transactions(tomorrow.account_ids[index])}
        oldest = {
            t["id"]
            for t in today.transactions(today.account_ids[index])
            if t["attributes"]["executionDate"] < f"{DAY - dt.timedelta(days=SERVED_DAYS - 2)}"
        }
        assert old - oldest <= new


def test_the_balance_counts_the_earlier_year_the_user_booked() -> None:
    sim = Simulator(today=DAY, dataset="household")
    earlier = earlier_bookings(42, DAY)
    assert earlier and all(item.day <= DAY - dt.timedelta(days=SERVED_DAYS) for item in earlier)
    checking = sim.account_ids[0]
    served = sum((t["attributes"]["amount"] for t in sim.transactions(checking)), Decimal(0))
    on_checking = sum((i.booked.transaction.amount for i in earlier if i.account == 0), Decimal(0))
    assert sim.balance(checking) == served + on_checking


def test_the_dataset_switch_on_the_command_line_and_in_the_state() -> None:
    assert "household" in build_parser().format_help()
    sim = simulator_from_args(build_parser().parse_args(["--dataset", "household"]))
    with sim:
        state = requests.get(f"{sim.url}/_sim/state", timeout=30).json()
        assert state["dataset"] == "household"
        names = {t["attributes"]["counterpartName"] for t in sim.transactions(sim.account_ids[0])}
        assert {"ACME BELGIUM NV", "PROXIMUS SA"} & names
    with Simulator() as default:  # the tests' data keeps its hostile texts
        state = requests.get(f"{default.url}/_sim/state", timeout=30).json()
        assert state["dataset"] == "default"
        texts = str([t["attributes"] for t in default.transactions(default.account_ids[0])])
        assert "<script>" in texts
    with pytest.raises(ValueError, match="dataset must be one of default, household"):
        Simulator(dataset="nope")  # type: ignore[arg-type]


def test_the_dollar_account_books_income_as_credits_and_expenses_as_debits() -> None:
    items = [i for i in household_items(42, DAY) if i.account == 2]
    assert {i.booked.label.split(":")[0] for i in items} == {"Equity", "Income", "Expenses"}
    for item in items:
        amount = item.booked.transaction.amount
        assert (amount < 0) == item.booked.label.startswith("Expenses:"), item
