"""The ``bean-ponto`` command line, over real HTTP against the simulator.

Most tests call :func:`beancount_ponto.cli.main` in-process (fast); a few run
the installed console script as a subprocess with ``PONTO_API_URL`` and
``XDG_CONFIG_HOME`` pointing into the test's folder. Every command's output
is scanned for the client secret.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import re
import runpy
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import pytest
from beancount import loader

from beancount_ponto.cli import main as cli
from beancount_ponto.config import load_config, save_config
from beancount_ponto.simulator import Simulator
from beancount_ponto.testing import LEDGER_ACCOUNTS
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import booked_ids, ids_in_file

BEAN_PONTO = Path(sys.executable).with_name("bean-ponto")
WRONG_SECRET = "not-the-secret-4711"


@dataclass
class Run:
    """The outcome of one command."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def assert_no_secret(run: Run, sim: Simulator) -> None:
    for secret in (sim.client_secret, WRONG_SECRET):
        assert secret not in run.text


class Bean(Protocol):
    """The ``bean`` fixture: ``bean("sync", "--ledger", path, stdin=None) -> Run``."""

    def __call__(self, *args: str | Path, stdin: str | None = None) -> Run: ...


@pytest.fixture
def bean(capsys: pytest.CaptureFixture[str], sim: Simulator) -> Bean:
    """Run ``bean-ponto ARGS...`` in-process; the secret must never show."""

    def run(*args: str | Path, stdin: str | None = None) -> Run:
        capsys.readouterr()
        old_stdin = sys.stdin
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            code = cli.main([str(a) for a in args])
        finally:
            sys.stdin = old_stdin
        out, err = capsys.readouterr()
        result = Run(code, out, err)
        assert_no_secret(result, sim)
        return result

    return run


def run_script(sim: Simulator, cwd: Path, *args: str | Path, stdin: str = "", **env: str) -> Run:
    """Run the installed console script as a real process."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PONTO_", "BEAN_PONTO"))}
    environ.update(PONTO_API_URL=sim.url, XDG_CONFIG_HOME=str(cwd / "xdg"), TZ="Europe/Brussels")
    environ.update(env)
    proc = subprocess.run(
        [str(BEAN_PONTO), *map(str, args)],
        cwd=cwd,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    result = Run(proc.returncode, proc.stdout, proc.stderr)
    assert_no_secret(result, sim)
    return result


def one_error_line(run: Run) -> str:
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("bean-ponto: error: "), run.err
    return lines[0]


def with_config(ws: Workspace, **changes: object) -> None:
    """Rewrite the workspace config with ``changes``."""
    config = dataclasses.replace(load_config(ws.root / "ponto.toml"), **changes)  # type: ignore[arg-type]
    save_config(config)
    ws.config = load_config(ws.root / "ponto.toml")


# -- login ---------------------------------------------------------------------


def test_login_reads_the_secret_from_stdin_verifies_and_stores_it_0600(
    bean: Bean, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONTO_API_URL", sim.url)
    config = tmp_path / "ponto.toml"
    sim.reset_log()
    run = bean(
        "--config", config, "login", "--client-id", sim.client_id, stdin=sim.client_secret + "\n"
    )
    assert run.code == 0, run.err
    stored = tmp_path / "xdg" / "bean-ponto" / "credentials.json"
    assert str(stored) in run.out
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert json.loads(stored.read_text()) == {
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
    }
    assert ("POST", "/oauth2/token", 200) in sim.request_log  # verified with Ponto
    assert not config.exists() or sim.client_secret not in config.read_text()

    # The stored credentials are used from then on.
    run = bean("--config", config, "accounts", "--json")
    assert run.code == 0, run.err
    assert len(json.loads(run.out)) == 3


def test_login_with_a_wrong_secret_stores_nothing(
    bean: Bean, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONTO_API_URL", sim.url)
    run = bean(
        "--config", tmp_path / "ponto.toml", "login", "--client-id", sim.client_id,
        stdin=WRONG_SECRET + "\n",
    )  # fmt: skip
    assert run.code == 1
    assert "refused the Client ID or Client Secret" in one_error_line(run)
    assert run.out == ""
    assert not (tmp_path / "xdg" / "bean-ponto" / "credentials.json").exists()


def test_login_needs_a_client_id_and_a_secret(
    bean: Bean, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONTO_API_URL", sim.url)
    config = tmp_path / "ponto.toml"
    run = bean("--config", config, "login", stdin=sim.client_secret + "\n")
    assert run.code == 1
    assert "--client-id" in one_error_line(run)
    run = bean("--config", config, "login", "--client-id", sim.client_id, stdin="")
    assert run.code == 1
    assert "Client Secret" in one_error_line(run)
    assert not (tmp_path / "xdg").exists()


def test_login_as_a_real_process(sim: Simulator, tmp_path: Path) -> None:
    run = run_script(sim, tmp_path, "login", "--client-id", sim.client_id, stdin=WRONG_SECRET)
    assert run.code == 1
    assert "refused" in one_error_line(run)
    assert not (tmp_path / "xdg").exists()

    run = run_script(sim, tmp_path, "login", "--client-id", sim.client_id, stdin=sim.client_secret)
    assert run.code == 0, run.err
    stored = tmp_path / "xdg" / "bean-ponto" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())["client_secret"] == sim.client_secret


# -- environment -----------------------------------------------------------------


def test_environment_credentials_override_the_stored_ones(
    bean: Bean, ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ws.root / "ponto.toml"
    assert bean("--config", config, "accounts").code == 0

    monkeypatch.setenv("PONTO_CLIENT_ID", sim.client_id)
    monkeypatch.setenv("PONTO_CLIENT_SECRET", WRONG_SECRET)
    run = bean("--config", config, "accounts")
    assert run.code == 1
    assert "refused" in one_error_line(run)

    # Stored credentials wrong, environment right: the environment wins.
    store = ws.config.credentials_path()
    store.write_text(json.dumps({"client_id": "someone", "client_secret": WRONG_SECRET}))
    monkeypatch.setenv("PONTO_CLIENT_SECRET", sim.client_secret)
    run = bean("--config", config, "accounts")
    assert run.code == 0, run.err


def test_ponto_api_url_overrides_the_configured_base_url(
    bean: Bean, ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Simulator(seed=99) as other:
        assert set(other.account_ids).isdisjoint(sim.account_ids)
        with_config(ws, api_url=other.url)
        run = bean("--config", ws.root / "ponto.toml", "accounts", "--json")
        assert {a["id"] for a in json.loads(run.out)} == set(other.account_ids)
        monkeypatch.setenv("PONTO_API_URL", sim.url)
        sim.reset_log()
        run = bean("--config", ws.root / "ponto.toml", "accounts", "--json")
        assert run.code == 0, run.err
        assert {a["id"] for a in json.loads(run.out)} == set(sim.account_ids)
        assert sim.request_log


# -- accounts ----------------------------------------------------------------------


def test_accounts_table(bean: Bean, tmp_path: Path, sim: Simulator) -> None:
    ws = make_workspace(tmp_path / "books", sim, accounts=2)
    run = bean("--config", ws.root / "ponto.toml", "accounts")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split()[:3] == ["ID", "IBAN", "CUR"]
    assert len(lines) == 4
    for index, account_id in enumerate(sim.account_ids):
        row = next(line for line in lines if line.startswith(account_id))
        resource = sim.account(account_id)["attributes"]
        assert resource["reference"] in row
        assert resource["currency"] in row
        assert str(sim.balance(account_id)) in row
        assert row.endswith(LEDGER_ACCOUNTS[index] if index < 2 else "-")
    savings = next(line for line in lines if line.startswith(sim.account_ids[1]))
    expires = dt.datetime.fromisoformat(
        sim.account(sim.account_ids[1])["attributes"]["authorizationExpirationExpectedAt"]
    )
    days = (expires - dt.datetime.now(dt.UTC)).days
    assert f"{expires.date()} ({days}d)" in savings


def test_accounts_json(bean: Bean, tmp_path: Path, sim: Simulator) -> None:
    ws = make_workspace(tmp_path / "books", sim, accounts=2)
    run = bean("--config", ws.root / "ponto.toml", "accounts", "--json")
    assert run.code == 0, run.err
    listed = json.loads(run.out)
    assert [a["id"] for a in listed] == sim.account_ids
    now = dt.datetime.now(dt.UTC)
    for index, item in enumerate(listed):
        resource = sim.account(item["id"])["attributes"]
        assert item["reference"] == resource["reference"]
        assert item["currency"] == resource["currency"]
        assert isinstance(item["balance"], str)
        assert Decimal(item["balance"]) == sim.balance(item["id"])
        expires = dt.datetime.fromisoformat(item["consent_expires_at"])
        assert expires.tzinfo is not None
        assert expires > now
        assert item["linked_account"] == (LEDGER_ACCOUNTS[index] if index < 2 else None)
    savings = sim.account(sim.account_ids[1])["attributes"]
    expected = dt.datetime.fromisoformat(savings["authorizationExpirationExpectedAt"])
    assert dt.datetime.fromisoformat(listed[1]["consent_expires_at"]) == expected.replace(
        microsecond=0
    )
    assert listed[0]["reference"] == listed[2]["reference"]  # EUR and USD share the IBAN


# -- link / unlink -------------------------------------------------------------------


@pytest.fixture
def bare(tmp_path: Path, sim: Simulator) -> Workspace:
    """A workspace with credentials but no account linked."""
    return make_workspace(tmp_path / "bare", sim, accounts=0)


def test_link_by_id_and_by_iban(bean: Bean, bare: Workspace, sim: Simulator) -> None:
    config = bare.root / "ponto.toml"
    checking, savings, dollars = sim.account_ids
    iban = sim.account(savings)["attributes"]["reference"]
    spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)).lower()

    run = bean("--config", config, "link", spaced, "Assets:Bank:Savings")
    assert run.code == 0, run.err
    assert savings in run.out
    run = bean("--config", config, "link", dollars, "Assets:Bank:Dollars", "--no-balance")
    assert run.code == 0, run.err

    links = load_config(config).links
    assert set(links) == {savings, dollars}
    assert links[savings].account == "Assets:Bank:Savings"
    assert links[savings].reference == iban
    assert links[dollars].currency == "USD"
    assert links[dollars].balance_assertions is False
    assert checking not in links

    # One ledger account is fed by one Ponto account.
    run = bean("--config", config, "link", checking, "Assets:Bank:Savings")
    assert run.code == 1
    assert "already linked" in one_error_line(run)

    run = bean("--config", config, "accounts", "--json")
    linked = {a["id"]: a["linked_account"] for a in json.loads(run.out)}
    assert linked == {
        checking: None,
        savings: "Assets:Bank:Savings",
        dollars: "Assets:Bank:Dollars",
    }


def test_link_a_shared_iban_is_an_error_listing_both_ids(
    bean: Bean, bare: Workspace, sim: Simulator
) -> None:
    config = bare.root / "ponto.toml"
    before = config.read_text()
    iban = sim.account(sim.account_ids[0])["attributes"]["reference"]
    run = bean("--config", config, "link", iban, "Assets:Bank:Checking")
    assert run.code == 1
    line = one_error_line(run)
    assert sim.account_ids[0] in line
    assert sim.account_ids[2] in line
    assert sim.account_ids[1] not in line
    assert config.read_text() == before


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["Assets:bank:checking"], "not a Beancount account name"),
        (["Bank Checking"], "not a Beancount account name"),
        (["Bank:Checking"], "not an asset or liability account"),
        (["Expenses:Groceries"], "not an asset or liability account"),
        (["Equity:Opening"], "under Assets: or Liabilities:"),
        (["Assets:Bank:Checking", "--start-date", "soon"], "--start-date"),
        (["Assets:Bank:Checking", "--time-zone", "Mars/Olympus"], "unknown time zone"),
    ],
)
def test_link_refuses_bad_input_and_saves_nothing(
    bean: Bean, bare: Workspace, sim: Simulator, extra: list[str], expected: str
) -> None:
    config = bare.root / "ponto.toml"
    before = config.read_text()
    run = bean("--config", config, "link", sim.account_ids[0], *extra)
    assert run.code == 1
    assert expected in one_error_line(run)
    assert config.read_text() == before
    assert bean("--config", config, "accounts").code == 0  # the config still loads


def test_link_unknown_reference(bean: Bean, bare: Workspace) -> None:
    run = bean("--config", bare.root / "ponto.toml", "link", "BE00NOPE", "Assets:Bank:X")
    assert run.code == 1
    assert "BE00NOPE" in one_error_line(run)


def test_link_options_are_stored(bean: Bean, bare: Workspace, sim: Simulator) -> None:
    config = bare.root / "ponto.toml"
    run = bean(
        "--config", config, "link", sim.account_ids[0], "Assets:Bank:Checking",
        "--start-date", "2026-10-15", "--time-zone", "Europe/Amsterdam", "--value-date",
    )  # fmt: skip
    assert run.code == 0, run.err
    link = load_config(config).links[sim.account_ids[0]]
    assert link.start_date == dt.date(2026, 10, 15)
    assert link.time_zone == "Europe/Amsterdam"
    assert link.use_value_date is True


def test_unlink(bean: Bean, ws: Workspace, sim: Simulator) -> None:
    config = ws.root / "ponto.toml"
    run = bean("--config", config, "unlink", "Assets:Bank:Savings")
    assert run.code == 0, run.err
    assert set(load_config(config).links) == {sim.account_ids[0], sim.account_ids[2]}

    iban = sim.account(sim.account_ids[0])["attributes"]["reference"]
    run = bean("--config", config, "unlink", iban)  # shared by two links
    assert run.code == 1
    assert sim.account_ids[0] in one_error_line(run)

    run = bean("--config", config, "unlink", sim.account_ids[2])
    assert run.code == 0, run.err
    assert set(load_config(config).links) == {sim.account_ids[0]}

    run = bean("--config", config, "unlink", "Assets:Bank:Nothing")
    assert run.code == 1
    one_error_line(run)


# -- sync ------------------------------------------------------------------------------


def test_sync_prints_per_account_counts_and_is_idempotent(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    args = (
        "--config",
        ws.root / "ponto.toml",
        "sync",
        "--ledger",
        ws.ledger,
        "--output",
        ws.output,
    )
    run = bean(*args)
    assert run.code == 0, run.err
    for name in LEDGER_ACCOUNTS:
        assert f"{name}: 40 new" in run.out
    assert set(ids_in_file(ws.output)) == booked_ids(sim, sim.account_ids[0]) | booked_ids(
        sim, sim.account_ids[1]
    ) | booked_ids(sim, sim.account_ids[2])
    assert bean_check(ws.ledger) == []
    before = ws.output.read_bytes()

    run = bean(*args)
    assert run.code == 0, run.err
    for name in LEDGER_ACCOUNTS:
        assert f"{name}: 0 new" in run.out
    assert ws.output.read_bytes() == before

    new_id = sim.add_transaction(sim.account_ids[1], "-12.50", counterpart_name="Bakker")
    run = bean(*args)
    assert run.code == 0, run.err
    assert "Assets:Bank:Savings: 1 new" in run.out
    assert "Assets:Bank:Checking: 0 new" in run.out
    assert ids_in_file(ws.output).count(new_id) == 1
    assert bean_check(ws.ledger) == []


def test_sync_fails_for_one_account_but_writes_the_others(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    sim.revoke_consent(sim.account_ids[1], refuse_reads=True)
    run = bean("--config", ws.root / "ponto.toml", "sync", "--ledger", ws.ledger)
    assert run.code == 1
    assert "Assets:Bank:Savings: FAILED" in run.err
    assert "consent" in run.err
    assert "Assets:Bank:Checking: 40 new" in run.out
    assert "Assets:Bank:Dollars: 40 new" in run.out
    written = set(ids_in_file(ws.output))
    assert written == booked_ids(sim, sim.account_ids[0]) | booked_ids(sim, sim.account_ids[2])
    assert bean_check(ws.ledger) == []


def test_sync_takes_ledger_and_output_from_the_config(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    ws.ledger.write_text(
        ws.ledger.read_text().replace("ponto.beancount", "bank/ponto-in.beancount")
    )
    with_config(ws, output=ws.root / "bank" / "ponto-in.beancount")
    run = bean("--config", ws.root / "ponto.toml", "sync")
    assert run.code == 0, run.err
    assert "warning" not in run.err
    out = ws.root / "bank" / "ponto-in.beancount"
    assert len(ids_in_file(out)) == 120
    assert not ws.output.exists()
    assert bean_check(ws.ledger) == []


def test_sync_output_defaults_to_ponto_beancount_beside_the_ledger(
    bean: Bean, ws: Workspace, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ledger = elsewhere / "books.beancount"
    shutil.copy(ws.ledger, ledger)
    with_config(ws, ledger=None)
    run = bean("--config", ws.root / "ponto.toml", "sync", "--ledger", ledger)
    assert run.code == 0, run.err
    assert len(ids_in_file(elsewhere / "ponto.beancount")) == 120
    assert not ws.output.exists()
    assert bean_check(ledger) == []


def test_sync_without_a_ledger_is_a_clear_error(bean: Bean, ws: Workspace) -> None:
    with_config(ws, ledger=None)
    run = bean("--config", ws.root / "ponto.toml", "sync")
    assert run.code == 1
    assert "--ledger" in one_error_line(run)


def test_sync_warns_when_the_output_is_not_included(bean: Bean, ws: Workspace) -> None:
    ws.ledger.write_text(ws.ledger.read_text().replace('include "ponto.beancount"\n', ""))
    run = bean("--config", ws.root / "ponto.toml", "sync", "--ledger", ws.ledger)
    assert run.code == 0, run.err
    warnings = [line for line in run.err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert 'include "ponto.beancount"' in warnings[0]
    assert str(ws.output) in warnings[0]
    assert bean_check(ws.ledger) == []
    # Following the advice gives a valid ledger with every transaction.
    with ws.ledger.open("a") as handle:
        handle.write('include "ponto.beancount"\n')
    assert bean_check(ws.ledger) == []
    run = bean("--config", ws.root / "ponto.toml", "sync", "--ledger", ws.ledger)
    assert run.code == 0, run.err
    assert "warning" not in run.err
    assert bean_check(ws.ledger) == []


def test_sync_warning_names_the_output_relative_to_the_ledger(bean: Bean, ws: Workspace) -> None:
    ws.ledger.write_text(ws.ledger.read_text().replace('include "ponto.beancount"\n', ""))
    out = ws.root / "imports" / "bank.beancount"
    run = bean("--config", ws.root / "ponto.toml", "sync", "--ledger", ws.ledger, "--output", out)
    assert run.code == 0, run.err
    assert 'include "imports/bank.beancount"' in run.err
    with ws.ledger.open("a") as handle:
        handle.write('include "imports/bank.beancount"\n')
    assert bean_check(ws.ledger) == []


# -- status ------------------------------------------------------------------------------


def test_status_text_and_json(bean: Bean, ws: Workspace, sim: Simulator) -> None:
    config = ws.root / "ponto.toml"
    run = bean("--config", config, "status", "--json")
    assert run.code == 0, run.err
    before = {a["account"]: a for a in json.loads(run.out)["accounts"]}
    assert before["Assets:Bank:Checking"]["last_success"] is None

    assert bean("--config", config, "sync").code == 0
    run = bean("--config", config, "status")
    assert run.code == 0, run.err
    for name in LEDGER_ACCOUNTS:
        assert name in run.out
    assert run.out.count("last successful sync: 20") == 3
    assert "days left" in run.out
    assert "renew it soon" in run.out  # savings expires in 20 days

    doc = json.loads(bean("--config", config, "status", "--json").out)
    assert doc["live"] is True
    by_account = {a["account"]: a for a in doc["accounts"]}
    savings = by_account["Assets:Bank:Savings"]
    assert savings["consent"]["state"] == "expiring"
    expires = dt.datetime.fromisoformat(savings["consent"]["expires_at"])
    assert savings["consent"]["days_left"] == (expires - dt.datetime.now(dt.UTC)).days
    assert 0 < savings["consent"]["days_left"] <= 20
    checking = by_account["Assets:Bank:Checking"]
    assert checking["consent"]["state"] == "ok"
    assert checking["consent"]["days_left"] > 100
    for item in doc["accounts"]:
        assert dt.datetime.fromisoformat(item["last_success"]).tzinfo is not None
        assert item["failing_since"] is None


def test_sync_full_and_status_show_the_deep_check(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    config = ws.root / "ponto.toml"
    run = bean("--config", config, "status")
    assert run.out.count("deep check: never") == 3
    assert bean("--config", config, "sync").code == 0
    sim.reset_log()
    run = bean("--config", config, "sync", "--full")
    assert run.code == 0, run.err
    assert run.out.count("deep check: read 40 in 1 pages, nothing missing") == 3
    assert sum("/transactions?" in p for _m, p, _s in sim.request_log) == 3
    run = bean("--config", config, "status")
    assert run.out.count("(full): read 40 in 1 pages, nothing missing; bank balance agrees") == 3
    doc = json.loads(bean("--config", config, "status", "--json").out)
    check = doc["accounts"][0]["deep_check"]
    assert (check["trigger"], check["seen"], check["missing"], check["balance"]) == (
        "full",
        40,
        0,
        "agrees",
    )
    assert dt.datetime.fromisoformat(check["at"]).tzinfo is not None


def test_status_shows_failing_since_after_a_failure(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    config = ws.root / "ponto.toml"
    assert bean("--config", config, "sync").code == 0
    sim.revoke_consent(sim.account_ids[1], refuse_reads=True)
    assert bean("--config", config, "sync").code == 1

    doc = json.loads(bean("--config", config, "status", "--json").out)
    by_account = {a["account"]: a for a in doc["accounts"]}
    savings = by_account["Assets:Bank:Savings"]
    assert savings["consent"]["state"] == "revoked"
    assert savings["failing_since"] is not None
    assert "consent" in savings["last_error"]
    assert savings["last_success"] is not None  # the earlier one is remembered
    assert by_account["Assets:Bank:Checking"]["failing_since"] is None

    run = bean("--config", config, "status")
    assert "FAILING since" in run.out
    assert "REVOKED" in run.out


# -- extract ------------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_extract_prints_new_entries_and_writes_nothing(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    config = ws.root / "ponto.toml"
    assert bean("--config", config, "sync").code == 0
    # Dated after the balance assertions the sync may have written.
    day = max(dt.date.today(), TODAY + dt.timedelta(days=2))
    new_id = sim.add_transaction(
        sim.account_ids[0], "-7.25", counterpart_name='Café "Zeta"', execution_date=day
    )
    before = snapshot(ws.root)

    run = bean("--config", config, "extract", "-e", ws.ledger)
    assert run.code == 0, run.err
    assert run.out.startswith(";; -*- mode: beancount -*-")
    assert f'ponto_id: "{new_id}"' in run.out
    assert run.out.count("ponto_id:") == 1
    assert "Assets:Bank:Checking" in run.out
    assert "-7.25 EUR" in run.out
    assert snapshot(ws.root) == before

    # `bean-ponto extract >> ponto.beancount` gives a valid ledger.
    with ws.output.open("a") as handle:
        handle.write("\n" + run.out)
    assert bean_check(ws.ledger) == []


def test_extract_on_a_fresh_ledger_creates_no_file(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    before = snapshot(ws.root)
    run = bean("--config", ws.root / "ponto.toml", "extract", "-e", ws.ledger)
    assert run.code == 0, run.err
    assert run.out.count("ponto_id:") == 120
    assert snapshot(ws.root) == before
    ws.output.write_text(run.out)
    assert bean_check(ws.ledger) == []


def test_extract_without_a_ledger_names_the_option(bean: Bean, ws: Workspace) -> None:
    with_config(ws, ledger=None)
    run = bean("--config", ws.root / "ponto.toml", "extract")
    assert run.code == 1
    assert "-e LEDGER" in one_error_line(run)


# -- demo ----------------------------------------------------------------------------------


def state_counts(out: str) -> list[int]:
    """The ``N new`` of each demo account's summary line, in LEDGER_ACCOUNTS order."""
    found = {m[1]: int(m[2]) for m in re.finditer(r"^(\S+): (\d+) new", out, re.M)}
    assert sorted(found) == sorted(LEDGER_ACCOUNTS), out
    return [found[name] for name in LEDGER_ACCOUNTS]


def _text_of(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def test_demo_without_fava(bean: Bean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ponto.toml").write_text("not [valid toml\n")  # not the demo's business
    folder = tmp_path / "demo"
    run = bean("demo", "--no-fava", "--dir", folder)
    assert run.code == 0, run.err
    assert "0 errors" in run.out
    served = sum(state_counts(run.out))
    assert served > 300
    assert bean_check(folder / "main.beancount") == []
    assert len(ids_in_file(folder / "ponto.beancount")) == served
    # The demo's import script (for Fava's Import page) finds the demo config.
    (importer,) = runpy.run_path(str(folder / "import.py"))["CONFIG"]
    assert importer.identify(str(folder / "ponto.toml")) is True
    assert (
        'custom "fava-option" "import-config" "import.py"'
        in (folder / "main.beancount").read_text()
    )
    # The secret stays outside the folder that Fava serves (import-dirs ".").
    creds = tmp_path / "xdg" / "bean-ponto" / "demo-credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert not [p for p in folder.rglob("*") if "demo-client-secret" in _text_of(p)]
    assert "demo-client-secret" not in run.text
    from fava.application import create_app

    app = create_app([str(folder / "main.beancount")])
    app.testing = True
    for path in (creds, folder / ".ponto-credentials.json"):
        page = app.test_client().get("/ponto-demo/document/", query_string={"filename": str(path)})
        assert b"demo-client-secret" not in page.data

    # A second run reuses the folder and adds nothing twice.
    run = bean("demo", "--no-fava", "--dir", folder)
    assert run.code == 0, run.err
    assert len(ids_in_file(folder / "ponto.beancount")) == served
    assert bean_check(folder / "main.beancount") == []


# -- errors and secrets ----------------------------------------------------------------------


def test_errors_are_one_line_and_verbose_adds_detail(
    bean: Bean, ws: Workspace, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.beancount"
    run = bean("--config", ws.root / "ponto.toml", "sync", "--ledger", missing)
    assert run.code == 1
    assert str(missing) in one_error_line(run)

    run = bean("--verbose", "--config", ws.root / "ponto.toml", "sync", "--ledger", missing)
    assert run.code == 1
    assert "Traceback" in run.err
    assert run.err.strip().splitlines()[-1].startswith("bean-ponto: error: ")


def test_a_broken_config_is_one_line(bean: Bean, tmp_path: Path) -> None:
    config = tmp_path / "ponto.toml"
    config.write_text("accounts = [broken\n")
    run = bean("--config", config, "accounts")
    assert run.code == 1
    assert "not valid TOML" in one_error_line(run)


def test_no_credentials_is_one_line(bean: Bean, tmp_path: Path, sim: Simulator) -> None:
    run = bean("--config", tmp_path / "ponto.toml", "accounts")
    assert run.code == 1
    assert "bean-ponto login" in one_error_line(run)


def test_the_secret_never_shows_even_verbose(
    bean: Bean, ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ws.root / "ponto.toml"
    monkeypatch.setenv("PONTO_API_URL", sim.url)
    for args in (
        ("--verbose", "accounts"),
        ("--verbose", "accounts", "--json"),
        ("--verbose", "sync"),
        ("--verbose", "status"),
        ("--verbose", "status", "--json"),
        ("--verbose", "extract"),
    ):
        assert bean("--config", config, *args).code == 0
    run = bean(
        "--verbose", "--config", config, "login", "--client-id", sim.client_id,
        stdin=WRONG_SECRET,
    )  # fmt: skip
    assert run.code == 1
    run = bean("--verbose", "--config", config, "login", "--client-id", sim.client_id,
               stdin=sim.client_secret)  # fmt: skip
    assert run.code == 0
    # (each `bean` call already asserted that neither secret appeared)


# -- a whole session as real processes -------------------------------------------------------


@pytest.mark.slow
def test_a_session_as_real_processes(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "main.beancount").write_text(
        'option "title" "Books"\n2020-01-01 open Assets:Bank:Checking\ninclude "ponto.beancount"\n'
    )
    run = run_script(sim, tmp_path, "login", "--client-id", sim.client_id, stdin=sim.client_secret)
    assert run.code == 0, run.err
    checking = sim.account_ids[0]
    run = run_script(sim, tmp_path, "link", checking, "Assets:Bank:Checking")
    assert run.code == 0, run.err
    assert (tmp_path / "ponto.toml").is_file()  # the default config: ./ponto.toml

    run = run_script(sim, tmp_path, "sync", "--ledger", "main.beancount")
    assert run.code == 0, run.err
    assert "Assets:Bank:Checking: 40 new" in run.out
    assert bean_check(tmp_path / "main.beancount") == []

    run = run_script(sim, tmp_path, "accounts", "--json")
    assert run.code == 0, run.err
    linked = {a["id"]: a["linked_account"] for a in json.loads(run.out)}
    assert linked[checking] == "Assets:Bank:Checking"

    # BEAN_PONTO_CONFIG names the config file; the environment overrides credentials.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = run_script(
        sim, elsewhere, "status", "--json", "--ledger", tmp_path / "main.beancount",
        BEAN_PONTO_CONFIG=str(tmp_path / "ponto.toml"),
        PONTO_CLIENT_ID=sim.client_id, PONTO_CLIENT_SECRET=sim.client_secret,
    )  # fmt: skip
    assert run.code == 0, run.err
    (status,) = json.loads(run.out)["accounts"]
    assert status["account"] == "Assets:Bank:Checking"
    assert status["last_success"] is not None

    sim.add_transaction(checking, "-3.10")
    run = run_script(sim, tmp_path, "--verbose", "sync", "--ledger", "main.beancount")
    assert run.code == 0, run.err
    assert "/oauth2/token" in run.err  # the detail is there, the secret is not (run_script)
    assert "Assets:Bank:Checking: 1 new" in run.out

    run = run_script(sim, tmp_path, "sync", "--ledger", "nowhere.beancount")
    assert run.code == 1
    assert "nowhere.beancount" in one_error_line(run)
    assert "Traceback" not in run.err


# -- --refresh and the examples ---------------------------------------------------------------


@pytest.mark.slow
def test_sync_refresh_asks_ponto_to_synchronize_first(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    sim.queue_on_sync(sim.account_ids[0], 2)  # booked only when a synchronization runs
    sim.reset_log()
    run = bean("--config", ws.root / "ponto.toml", "sync", "--refresh")
    assert run.code == 0, run.err
    assert "Assets:Bank:Checking: 42 new" in run.out
    posts = [path for method, path, _ in sim.request_log if method == "POST"]
    assert sum(path.startswith("/synchronizations") for path in posts) == 6
    assert bean_check(ws.ledger) == []


EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def test_the_examples_work_as_documented(
    bean: Bean, tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    books = tmp_path / "books"
    shutil.copytree(EXAMPLES, books)
    monkeypatch.setenv("PONTO_API_URL", sim.url)
    monkeypatch.setenv("PONTO_CLIENT_ID", sim.client_id)
    monkeypatch.setenv("PONTO_CLIENT_SECRET", sim.client_secret)
    config = books / "ponto.toml"
    example = load_config(config)
    assert example.ledger == books / "main.beancount"
    assert {link.account for link in example.links.values()} == {
        "Assets:Bank:Checking",
        "Assets:Bank:Savings",
    }
    # Swap the example's account ids for the simulator's, as a new user would.
    for ponto_id in example.links:
        assert bean("--config", config, "unlink", ponto_id).code == 0
    checking, savings, _dollars = sim.account_ids
    assert bean("--config", config, "link", checking, "Assets:Bank:Checking").code == 0
    assert bean("--config", config, "link", savings, "Assets:Bank:Savings").code == 0

    run = bean("--config", config, "sync")
    assert run.code == 0, run.err
    assert "Assets:Bank:Checking: 40 new" in run.out
    assert "warning" not in run.err
    assert bean_check(books / "main.beancount") == []

    (importer,) = runpy.run_path(str(books / "import.py"))["CONFIG"]
    assert importer.identify(str(config)) is True
    entries, errors, _ = loader.load_file(str(books / "main.beancount"))
    assert errors == []
    assert importer.extract(str(config), existing=entries) == []  # nothing new after the sync
