"""Dates are the bank's day on any machine; a malformed timestamp fails one account only."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from beancount_ponto.importer import PontoImporter
from beancount_ponto.ponto.client import PontoClient
from beancount_ponto.simulator import Simulator
from tests.conftest import TODAY, Workspace, bean_check, make_workspace

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from beancount_ponto.simulator.jsonutil import DateConvention
    from beancount_ponto.sync import AccountResult, SyncResult

DAY = dt.date(2026, 11, 18)  # winter time: Brussels is UTC+1
SUMMER_DAY = dt.date(2026, 7, 1)  # summer time: Brussels is UTC+2


@pytest.fixture
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's zone is UTC (as on most servers and CI runners)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def of(result: SyncResult, ponto_id: str) -> AccountResult:
    return next(a for a in result.accounts if a.ponto_id == ponto_id)


def workspace(tmp_path: Path, sim: Simulator) -> Workspace:
    return make_workspace(tmp_path / "books", sim)


def test_simulator_serves_both_date_conventions_and_banks_without_time_zone() -> None:
    for convention, stamp in (
        ("local_midnight", "2026-11-17T23:00:00.000Z"),
        ("utc_midnight", "2026-11-18T00:00:00.000Z"),
    ):
        with Simulator(
            today=TODAY,
            transactions_per_account=2,
            date_convention=convention,  # type: ignore[arg-type]
            serve_time_zone=False,
        ) as sim:
            account = sim.account_ids[0]
            tx = sim.add_transaction(account, "-1.00", execution_date=DAY)
            served = next(r for r in sim.transactions(account) if r["id"] == tx)["attributes"]
            assert (served["executionDate"], served["valueDate"]) == (stamp, stamp)
            client = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url)
            bank = client.financial_institution(sim.financial_institution_id)
            raw = client.get_resource(f"financial-institutions/{bank.id}")
            client.close()
            assert bank.time_zone is None
            assert "timeZone" not in raw["attributes"]
    with pytest.raises(ValueError, match="date_convention"):
        Simulator(date_convention="noon")  # type: ignore[arg-type]


@pytest.mark.usefixtures("utc_machine")
@pytest.mark.parametrize("convention", ["local_midnight", "utc_midnight"])
@pytest.mark.parametrize("day", [DAY, SUMMER_DAY])
def test_the_banks_day_on_a_utc_machine_without_a_bank_zone(
    tmp_path: Path, convention: DateConvention, day: dt.date
) -> None:
    assert time.localtime(0).tm_gmtoff == 0  # the machine really is on UTC
    with Simulator(
        seed=7,
        today=TODAY,
        transactions_per_account=3,
        date_convention=convention,
        serve_time_zone=False,
    ) as sim:
        ws = workspace(tmp_path, sim)
        account = sim.account_ids[0]
        tx = sim.add_transaction(account, "-1.00", execution_date=day, value_date=day)
        result = ws.sync()
        assert result.ok, [a.summary() for a in result.accounts]
        text = ws.output_text()
        assert re.search(rf'{day} \* "Demo Counterpart".*\n  ponto_id: "{tx}"', text), text
        assert bean_check(ws.ledger) == []


@pytest.mark.usefixtures("utc_machine")
@pytest.mark.parametrize("convention", ["local_midnight", "utc_midnight"])
def test_the_importer_dates_by_the_banks_day_on_a_utc_machine(
    tmp_path: Path, convention: DateConvention
) -> None:
    with Simulator(
        seed=7,
        today=TODAY,
        transactions_per_account=3,
        date_convention=convention,
        serve_time_zone=False,
    ) as sim:
        ws = workspace(tmp_path, sim)
        tx = sim.add_transaction(sim.account_ids[0], "-1.00", execution_date=DAY)
        entries = PontoImporter(ws.config.path).extract(str(ws.config.path), [])
        assert next(e for e in entries if e.meta["ponto_id"] == tx).date == DAY


# -- out-of-range timestamps: one account fails as malformed, the others go on -------

OUT_OF_RANGE = [
    "9999-12-31T23:00:00.000Z",  # fine in UTC, past year 9999 in Brussels
    "9999-12-31T23:59:59.999-01:00",  # past year 9999 in UTC
    "0001-01-01T00:30:00.000+01:00",  # before year 1 in UTC
]


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["executionDate", "valueDate"])
def test_an_out_of_range_transaction_date_fails_that_account_only(
    ws: Workspace, stamp: str, field: str
) -> None:
    broken = ws.sim.account_ids[0]
    verbatim: dict[str, Any] = {field: stamp}
    ws.sim.add_transaction(broken, "-1.00", **verbatim)
    result = ws.sync()
    error = of(result, broken).error
    assert error and "Ponto sent" in error and stamp in error
    assert [of(result, a).new for a in ws.sim.account_ids[1:]] == [40, 40]
    assert bean_check(ws.ledger) == []


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
def test_an_out_of_range_consent_date_fails_that_account_only(ws: Workspace, stamp: str) -> None:
    broken = ws.sim.account_ids[1]
    ws.sim.serve_account_attribute(broken, "authorizationExpirationExpectedAt", stamp)
    result = ws.sync()
    error = of(result, broken).error
    assert error and "Ponto sent" in error and stamp in error
    assert [of(result, a).new for a in (ws.sim.account_ids[0], ws.sim.account_ids[2])] == [40, 40]
    assert bean_check(ws.ledger) == []


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
def test_the_importer_survives_out_of_range_dates(ws: Workspace, stamp: str) -> None:
    ws.sim.add_transaction(ws.sim.account_ids[0], "-1.00", executionDate=stamp)
    ws.sim.serve_account_attribute(
        ws.sim.account_ids[1], "authorizationExpirationExpectedAt", stamp
    )
    entries = PontoImporter(ws.config.path).extract(str(ws.config.path), [])
    dollars = {r["id"] for r in ws.sim.transactions(ws.sim.account_ids[2])}
    assert {e.meta["ponto_id"] for e in entries} == dollars
