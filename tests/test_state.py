"""The state file: typed records, versions, migration, and the write protocol's repairs.

``tests/data/state_v1.json`` is a real version-1 file, written by bean-ponto at
ee190bc (the last version-1 code) after a sync, a revoked consent, an outage
and ``bean-ponto run --once``: users have files like it.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from beancount_ponto.errors import LedgerError
from beancount_ponto.state import SyncState
from beancount_ponto.state_runs import RunnerState
from beancount_ponto.state_schema import SCHEMA_VERSION, AccountState, Health, migrate

V1 = Path(__file__).parent / "data" / "state_v1.json"
SAVINGS = "197ae3ad-4c46-466d-b4a2-f3fe1d60d39a"
CHECKING = "bca3d4a7-2b20-45a8-b4c5-c3b458681ab4"


def write_state(output: Path, doc: object) -> SyncState:
    """Put ``doc`` where the state of ``output`` lives; return a state to load it with."""
    state = SyncState(output=output)
    state.state_path.parent.mkdir(parents=True, exist_ok=True)
    state.state_path.write_text(json.dumps(doc), encoding="utf-8")
    return state


def test_a_version_1_file_loads_typed(tmp_path: Path) -> None:
    output = tmp_path / "ponto.beancount"
    write_state(output, json.loads(V1.read_text(encoding="utf-8")))
    state = SyncState.load(output)
    savings = state.accounts[SAVINGS]
    assert savings.account == "Assets:Bank:Savings"
    assert savings.refusal is not None and savings.refusal.code == "authorizationInvalid"
    assert savings.health.failing_since is not None and savings.health.failures == 2
    assert "503" in (savings.health.last_error or "")
    assert savings.asserted_until == dt.date(2026, 11, 21)
    assert savings.bank_time_zone == "Europe/Brussels"
    assert savings.deep_check is not None and savings.deep_check.balance == "agrees"
    observed = next(iter(savings.balance_observations.values()))
    assert observed.date == dt.date(2026, 11, 21) and isinstance(observed.number, Decimal)
    assert state.runner.last_outcome == "failed"
    assert state.runner.health.failures == 1 and state.runner.every_seconds is None
    assert state.runs[0].source == "cli" and state.runs[0].ok
    assert state.runs[0].accounts[CHECKING].new == 3
    assert state.includes  # the include cache moved out of "extra"


def test_a_migrated_file_saves_as_version_2_and_round_trips(tmp_path: Path) -> None:
    output = tmp_path / "ponto.beancount"
    write_state(output, json.loads(V1.read_text(encoding="utf-8")))
    first = SyncState.load(output)
    first.save()
    saved = json.loads(first.state_path.read_text(encoding="utf-8"))
    assert saved["version"] == SCHEMA_VERSION == 2
    assert "extra" not in saved
    assert saved["runner"]["last_outcome"] == "failed"
    again = SyncState.load(output)
    assert again.accounts == first.accounts
    assert again.runs == first.runs
    assert again.runner == first.runner
    again.save()
    assert json.loads(again.state_path.read_text(encoding="utf-8")) == saved


def test_a_file_without_a_version_reads_as_version_1() -> None:
    doc = {"accounts": {}, "extra": {"runner": {"last_run": "2026-01-01T00:00:00+00:00"}}}
    assert migrate(doc)["runner"] == {"last_run": "2026-01-01T00:00:00+00:00"}
    assert migrate(doc)["version"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"version": 2, "accounts": {"x": {"last_fetch": 5}}}, "accounts.x.last_fetch"),
        ({"version": 2, "accounts": {"x": {"last_fetch": "noon"}}}, "accounts.x.last_fetch"),
        ({"version": 2, "accounts": {"x": {"balance": "12,50"}}}, "accounts.x.balance"),
        ({"version": 2, "accounts": {"x": {"failures": "2"}}}, "accounts.x.failures"),
        ({"version": 2, "accounts": {"x": []}}, "accounts.x"),
        ({"version": 2, "runs": [{"ok": "yes"}]}, "runs[0].ok"),
        ({"version": 2, "runner": {"every_seconds": 1.5}}, "runner.every_seconds"),
        ({"version": 2, "pending": [1]}, "pending"),
        ({"version": 1, "extra": "runner"}, "extra"),
        ({"version": 9}, "version"),
        (
            {"version": 2, "accounts": {"x": {"balance_observations": {"k": {"date": "x"}}}}},
            "accounts.x.balance_observations.k",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_one_line_naming_the_field(
    tmp_path: Path, doc: dict[str, object], field: str
) -> None:
    output = tmp_path / "ponto.beancount"
    write_state(output, doc)
    with pytest.raises(LedgerError) as raised:
        SyncState.load(output)
    message = str(raised.value)
    assert "\n" not in message
    assert field in message
    assert "move it away" in message


def test_health_records_success_and_failure_in_one_place() -> None:
    health = Health()
    first, second, later = (dt.datetime(2026, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3))
    health.failed(first, "503")
    health.failed(second, "502")
    assert (health.failing_since, health.last_error, health.failures) == (first, "502", 2)
    health.succeeded(later)
    assert (health.failing_since, health.last_error, health.failures) == (None, None, 0)
    assert health.last_success == later
    assert "failing_since" not in health.to_json()


def test_the_runner_record_counts_a_streak_of_failed_ticks() -> None:
    runner = RunnerState()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    runner.ticked(at, "failed", "Ponto answered 503")
    runner.ticked(at + dt.timedelta(hours=1), "skipped", "busy")
    runner.ticked(at + dt.timedelta(hours=2), "failed", "Ponto answered 502")
    assert runner.health.failures == 2 and runner.health.failing_since == at
    runner.ticked(at + dt.timedelta(hours=3), "ok", "0 new")
    assert runner.health.failing_since is None and runner.last_outcome == "ok"
    assert RunnerState.from_json(runner.to_json()) == runner


def test_unknown_keys_are_dropped_and_missing_ones_default() -> None:
    record = AccountState.from_json({"account": "Assets:Bank", "colour": "blue"}, "accounts.x")
    assert record.account == "Assets:Bank"
    assert record.balance_observations == {} and record.health == Health()
    assert "colour" not in record.to_json()


def test_recover_logs_the_pending_ids_the_output_holds(tmp_path: Path) -> None:
    output = tmp_path / "ponto.beancount"
    output.write_text('2026-01-01 * "x"\n  ponto_id: "a"\n  Assets:Bank  1 EUR\n', "utf-8")
    state = SyncState(output=output)
    state.begin_batch(["a", "b"])  # the crash: "a" reached the file, "b" did not
    loaded = SyncState.load(output)
    assert loaded.pending == ["a", "b"]
    loaded.recover()
    assert SyncState.load(output).written_ids == {"a"}
    assert SyncState.load(output).pending == []


def test_a_torn_last_line_of_the_ids_log_is_left_out(tmp_path: Path) -> None:
    output = tmp_path / "ponto.beancount"
    state = SyncState(output=output)
    state.log_written(["a", "b"])
    with state.ids_path.open("ab") as handle:
        handle.write("é".encode()[:1])  # a crash tore the write of the next id
    assert SyncState.load(output).written_ids == {"a", "b"}
    SyncState.load(output).log_written(["c"])
    assert SyncState.load(output).written_ids == {"a", "b", "c"}
