"""The walk never skips a transaction, whatever Ponto's list order; the deep check heals.

Every test runs against the simulator over HTTP, in both list orders where the
order matters: by entry date, and newest created first (as OCA's maintainers
describe real Ponto).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from beancount_ponto.convert import local_date
from beancount_ponto.simulator import Simulator
from beancount_ponto.simulator.records import ListOrder
from beancount_ponto.state import SyncState
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import ids_in

ORDERS: list[ListOrder] = ["date", "created"]
BRUSSELS = ZoneInfo("Europe/Brussels")


def transaction_pages(sim: Simulator) -> int:
    return sum("/transactions?" in p for _m, p, _s in sim.request_log)


def with_link(ws: Workspace, **changes: object) -> None:
    pid = ws.sim.account_ids[0]
    links = dict(ws.config.links)
    links[pid] = dataclasses.replace(links[pid], **changes)  # type: ignore[arg-type]
    ws.config = ws.config.with_links(links)


def entry_day(resource: dict[str, object]) -> dt.date:
    attributes = resource["attributes"]
    assert isinstance(attributes, dict)
    return local_date(dt.datetime.fromisoformat(attributes["executionDate"]), BRUSSELS)


@pytest.mark.parametrize("order", ORDERS)
def test_a_future_dated_transaction_does_not_stop_the_walk(
    tmp_path: Path, order: ListOrder
) -> None:
    """Issue 7.1: 51 of 150 never arrived, exit status 0, every later run the same."""
    with Simulator(account_sizes=[20], list_order=order) as sim:  # dated up to the real today
        today = sim.state.today()
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        account = sim.account_ids[0]
        future = sim.add_transaction(account, "-20.00", execution_date=today + dt.timedelta(20))
        ws.sync()
        assert ids_in(ws.output_text())[future] == 1
        added = [
            sim.add_transaction(account, f"-{n + 1}.00", execution_date=today) for n in range(150)
        ]
        first = ws.sync()
        second = ws.sync()
        assert first.ok and first.accounts[0].new == 150
        assert second.accounts[0].new == 0
        counts = ids_in(ws.output_text())
        assert all(counts[i] == 1 for i in added)
        assert bean_check(ws.ledger) == []


@pytest.mark.parametrize("order", ORDERS)
def test_start_date_only_filters_under_either_order(tmp_path: Path, order: ListOrder) -> None:
    """Issue 7.1: listed by creation, a late old delivery on top stopped the walk."""
    with Simulator(account_sizes=[40], list_order=order) as sim:
        today = sim.state.today()
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        start = today - dt.timedelta(days=5)
        with_link(ws, start_date=start)
        account = sim.account_ids[0]
        for n in range(150):
            sim.add_transaction(account, f"-{n + 1}.00", execution_date=today)
        late = sim.add_transaction(account, "-3.00", execution_date=today - dt.timedelta(10))
        if order == "created":
            assert sim.transactions(account)[0]["id"] == late
        wanted = {r["id"] for r in sim.transactions(account) if entry_day(r) >= start}
        assert len(wanted) > 150
        result = ws.sync()
        counts = ids_in(ws.output_text())
        assert result.ok
        assert set(counts) == wanted
        assert max(counts.values()) == 1
        assert bean_check(ws.ledger) == []


def test_a_late_delivery_listed_first_by_creation_is_not_skipped(tmp_path: Path) -> None:
    with Simulator(account_sizes=[20], list_order="created") as sim:
        today = sim.state.today()
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        account = sim.account_ids[0]
        for n in range(150):
            sim.add_transaction(account, f"-{n + 1}.00", execution_date=today)
        ws.sync()
        late = sim.add_transaction(account, "-9.99", execution_date=today - dt.timedelta(30))
        result = ws.sync()
        assert result.accounts[0].new == 1
        assert ids_in(ws.output_text())[late] == 1
        assert bean_check(ws.ledger) == []


@pytest.mark.parametrize("order", ORDERS)
def test_an_idle_run_reads_one_page_in_either_order(tmp_path: Path, order: ListOrder) -> None:
    with Simulator(account_sizes=[345], today=TODAY, list_order=order) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        ws.sync()
        sim.reset_log()
        result = ws.sync()
        assert result.new == 0
        assert transaction_pages(sim) == 1


def deep_late(sim: Simulator) -> str:
    """A transaction delivered 60 days late: below the pages an ordinary walk reads."""
    account = sim.account_ids[0]
    late = sim.add_transaction(account, "-7.77", execution_date=TODAY - dt.timedelta(days=60))
    assert [r["id"] for r in sim.transactions(account)].index(late) >= 200
    return late


def test_sync_full_brings_in_what_the_walk_cannot_see(tmp_path: Path) -> None:
    with Simulator(account_sizes=[300], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        ws.sync()
        late = deep_late(sim)
        sim.reset_log()
        assert ws.sync().new == 0  # beyond the overlap: the ordinary walk stops before it
        assert transaction_pages(sim) == 1
        sim.reset_log()
        result = ws.sync(full=True)
        assert transaction_pages(sim) == 4
        assert result.accounts[0].new == 1
        assert ids_in(ws.output_text())[late] == 1
        check = SyncState.load(ws.output).account(sim.account_ids[0]).deep_check
        assert check is not None
        assert (check.trigger, check.pages, check.seen, check.missing) == ("full", 4, 301, 1)
        assert check.balance == "agrees"
        assert any("deep check" in n and "1 missing" in n for n in result.accounts[0].notes)
        assert bean_check(ws.ledger) == []


def test_the_deep_check_runs_once_a_day_by_itself(tmp_path: Path) -> None:
    with Simulator(account_sizes=[300], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        ws.sync()  # the first sync reads everything: it is the first deep check
        late = deep_late(sim)
        sim.reset_log()
        ws.sync()
        assert transaction_pages(sim) == 1
        assert late not in ws.output_text()
        state = SyncState.load(ws.output)
        record = state.account(sim.account_ids[0])
        day_old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24, minutes=1)
        assert record.deep_check is not None
        record.deep_check = dataclasses.replace(record.deep_check, at=day_old)
        state.save()
        sim.reset_log()
        result = ws.sync()
        assert transaction_pages(sim) == 4
        assert result.accounts[0].new == 1
        assert ids_in(ws.output_text())[late] == 1
        check = SyncState.load(ws.output).account(sim.account_ids[0]).deep_check
        assert check is not None and check.trigger == "daily" and check.missing == 1
        sim.reset_log()
        ws.sync()
        assert transaction_pages(sim) == 1
        assert bean_check(ws.ledger) == []


def test_a_balance_mismatch_causes_one_deep_check_that_heals_it(tmp_path: Path) -> None:
    with Simulator(account_sizes=[300], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        account = sim.account_ids[0]
        ws.sync()
        late = deep_late(sim)
        sim.add_transaction(account, "1.00", execution_date=TODAY + dt.timedelta(days=1))
        noticed = ws.sync()  # a new reference date: its balance disagrees with the ledger
        assert noticed.accounts[0].new == 1
        assert any("differs" in n for n in noticed.accounts[0].notes)
        sim.reset_log()
        healed = ws.sync()
        assert transaction_pages(sim) == 4
        assert healed.accounts[0].new == 1
        assert ids_in(ws.output_text())[late] == 1
        record = SyncState.load(ws.output).account(account)
        check = record.deep_check
        assert check is not None
        assert (check.trigger, check.missing, check.balance) == ("mismatch", 1, "agrees")
        assert record.balance_mismatch is None
        asserted = ws.sync()  # the reference date is asserted now that the ledger agrees
        assert "balance asserted on 2026-11-22" in asserted.accounts[0].notes
        sim.reset_log()
        ws.sync()
        assert transaction_pages(sim) == 1
        assert bean_check(ws.ledger) == []


def test_a_deep_walk_keeps_deleted_entries_deleted(tmp_path: Path) -> None:
    with Simulator(account_sizes=[300], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        ws.sync()
        text = ws.output_text()
        victim = sim.transactions(sim.account_ids[0])[250]["id"]
        block = re.search(
            r"\n\n(\d{4}-\d\d-\d\d \*[^\n]*\n  ponto_id: \"" + victim + r"\"\n(?:  [^\n]*\n)*)",
            text,
        )
        assert block
        ws.output.write_text(text.replace(block.group(1), ""), encoding="utf-8")
        result = ws.sync(full=True)
        assert result.accounts[0].new == 0
        assert victim not in ws.output_text()
        check = SyncState.load(ws.output).account(sim.account_ids[0]).deep_check
        assert check is not None and check.missing == 0 and check.balance == "differs"


def test_deep_check_record_survives_a_round_trip(ws: Workspace) -> None:
    ws.sync()
    raw = json.loads(SyncState.load(ws.output).state_path.read_text())
    saved = raw["accounts"][ws.sim.account_ids[1]]["deep_check"]
    assert saved["trigger"] == "daily" and saved["pages"] == 1 and saved["seen"] == 40
    assert saved["balance"] == "agrees"
