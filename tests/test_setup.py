"""The setup as the README tells it, and the messages and exit statuses around it.

Over real HTTP against the simulator, through :func:`beancount_ponto.cli.main`
(the ``bean`` fixture) or real processes.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from beancount_ponto.config import load_config
from beancount_ponto.simulator import Simulator
from beancount_ponto.simulator.__main__ import build_parser, simulator_from_args
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import ids_in_file
from tests.test_cli import Bean, bean, one_error_line, with_config

__all__ = ["bean"]  # the fixture, imported for its name

README_LEDGER = """\
option "title" "Household"
option "operating_currency" "EUR"

2020-01-01 open Assets:Bank:KBC        EUR
2020-01-01 open Expenses:Uncategorized

include "ponto.beancount"
"""


@pytest.fixture
def books(tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ledger folder as the README's step 3 leaves it, the current folder."""
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "main.beancount").write_text(README_LEDGER, encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("PONTO_API_URL", sim.url)
    return folder


def savings_iban(sim: Simulator) -> str:
    return str(sim.account(sim.account_ids[1])["attributes"]["reference"])


def test_the_readme_setup_steps_then_every_command_finds_the_ledger(
    bean: Bean, books: Path, sim: Simulator
) -> None:
    assert bean("login", "--client-id", sim.client_id, stdin=sim.client_secret + "\n").code == 0
    assert bean("accounts").code == 0
    assert bean("link", savings_iban(sim), "Assets:Bank:KBC").code == 0
    run = bean("sync", "--ledger", "main.beancount")
    assert run.code == 0, run.err
    assert f"Recorded ledger = {books / 'main.beancount'}" in run.out
    assert load_config(books / "ponto.toml").ledger == books / "main.beancount"

    for args in (["status"], ["run", "--once"], ["extract"], ["sync"]):
        run = bean(*args)
        assert run.code == 0, (args, run.err)
        assert "no ledger given" not in run.text
    assert len(ids_in_file(books / "ponto.beancount")) == 40
    assert bean_check(books / "main.beancount") == []


def test_sync_with_a_configured_ledger_leaves_the_config_alone(bean: Bean, ws: Workspace) -> None:
    before = (ws.root / "ponto.toml").read_text()
    run = bean("--config", ws.root / "ponto.toml", "sync", "--ledger", ws.ledger)
    assert run.code == 0, run.err
    assert "Recorded" not in run.out
    assert (ws.root / "ponto.toml").read_text() == before


def test_status_needs_no_ledger(bean: Bean, ws: Workspace, sim: Simulator) -> None:
    with_config(ws, ledger=None)
    run = bean("--config", ws.root / "ponto.toml", "status")
    assert run.code == 0, run.err
    assert "Last sync unknown: no ledger given" in run.out
    assert run.out.count("last successful sync: unknown") == 3
    assert run.out.count("consent") >= 3  # each account's consent, from Ponto
    assert "expires" in run.out


def test_status_and_extract_exit_1_when_a_consent_expired(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    config = ws.root / "ponto.toml"
    assert bean("--config", config, "status").code == 0
    assert bean("--config", config, "extract").code == 0
    sim.expire_consent(sim.account_ids[1])
    assert bean("--config", config, "status").code == 1
    assert bean("--config", config, "status", "--json").code == 1
    assert bean("--config", config, "extract").code == 1


def test_a_missing_config_file_is_named(bean: Bean, tmp_path: Path) -> None:
    missing = tmp_path / "typo.toml"
    for command in ("status", "sync", "extract"):
        run = bean("--config", missing, command)
        assert run.code == 1
        assert f"config file {missing} does not exist" in one_error_line(run)


COMMENTED = """\
# my bean-ponto settings
ledger = "main.beancount"   # the household books
{connection}counter_account = "Expenses:Uncategorized"

# --- the bank accounts ---
[accounts.{pid}]   # savings at the bank
account = "Assets:Bank:Savings"  # do not rename
reference = "{iban}"
currency = "EUR"
balance_assertions = true
use_value_date = false
"""


def commented(ws: Workspace, sim: Simulator) -> str:
    """A hand-written config linking the savings account, with the workspace's connection."""
    lines = (ws.root / "ponto.toml").read_text().splitlines()
    keep = [line for line in lines if line.startswith(("api_url", "credentials_file"))]
    return COMMENTED.format(
        pid=sim.account_ids[1], iban=savings_iban(sim), connection="".join(k + "\n" for k in keep)
    )


def test_config_edits_keep_the_users_comments(bean: Bean, ws: Workspace, sim: Simulator) -> None:
    config = ws.root / "ponto.toml"
    checking = sim.account_ids[0]
    text = commented(ws, sim)
    config.write_text(text, encoding="utf-8")
    assert bean("--config", config, "link", checking, "Assets:Bank:Checking").code == 0
    after = config.read_text()
    assert after.startswith(text)  # every comment and line of the user, untouched
    assert f"[accounts.{checking}]" in after
    assert bean("--config", config, "unlink", checking).code == 0
    assert config.read_text().rstrip("\n") == text.rstrip("\n")


@pytest.mark.parametrize(
    ("line", "key", "closest"),
    [
        ("strat_date = 2024-01-01", "strat_date", "start_date"),
        ("use_valuedate = true", "use_valuedate", "use_value_date"),
        ("ledgr = 'x'", "ledgr", "ledger"),
    ],
)
def test_a_misspelt_key_is_named_with_the_closest(
    bean: Bean, ws: Workspace, sim: Simulator, line: str, key: str, closest: str
) -> None:
    config = ws.root / "ponto.toml"
    text = commented(ws, sim)
    if key == "ledgr":
        text = line + "\n" + text
    else:
        text += line + "\n"
    config.write_text(text, encoding="utf-8")
    run = bean("--config", config, "sync")
    assert run.code == 1
    message = one_error_line(run)
    assert f"unknown key `{key}`" in message and f"did you mean `{closest}`" in message
    assert not ws.output.exists()


def test_a_currency_that_differs_from_pontos_is_warned_about(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    config = ws.root / "ponto.toml"
    savings = sim.account_ids[1]
    config.write_text(
        config.read_text().replace('currency = "EUR"', 'currency = "USD"', 1), encoding="utf-8"
    )
    wrong = next(pid for pid, link in load_config(config).links.items() if link.currency == "USD")
    for command in ("status", "accounts"):
        run = bean("--config", config, command)
        assert f'[accounts.{wrong}] currency = "USD" but Ponto reports EUR' in run.err
    assert savings in load_config(config).links


def test_link_accepts_only_the_ledgers_asset_and_liability_roots(
    bean: Bean, tmp_path: Path, sim: Simulator
) -> None:
    ws = make_workspace(tmp_path / "fr", sim, accounts=0)
    ws.ledger.write_text(
        'option "name_assets" "Actif"\noption "name_liabilities" "Passif"\n'
        "2000-01-01 open Actif:Banque\n",
        encoding="utf-8",
    )
    config = ws.root / "ponto.toml"
    savings = sim.account_ids[1]
    for name in ("Assets:Bank:Savings", "Expenses:Bank"):
        run = bean("--config", config, "link", savings, name)
        assert run.code == 1
        assert "under Actif: or Passif:" in one_error_line(run)
    assert load_config(config).links == {}
    assert bean("--config", config, "link", savings, "Actif:Banque").code == 0
    assert bean("--config", config, "link", sim.account_ids[0], "Passif:Carte").code == 0
    assert load_config(config).links[savings].account == "Actif:Banque"


def test_relinking_keeps_the_settings_unless_changed(
    bean: Bean, tmp_path: Path, sim: Simulator
) -> None:
    ws = make_workspace(tmp_path / "b", sim, accounts=0)
    config = ws.root / "ponto.toml"
    savings = sim.account_ids[1]
    args = ["--start-date", "2026-10-01", "--value-date", "--no-balance"]
    assert bean("--config", config, "link", savings, "Assets:Bank:Savings", *args).code == 0
    assert (
        bean("--config", config, "link", savings, "Assets:Bank:Savings", "--time-zone", "UTC").code
        == 0
    )
    run = bean("--config", config, "link", savings, "Assets:Bank:Spaar")
    assert run.code == 0, run.err
    assert "settings kept" in run.out
    link = load_config(config).links[savings]
    assert link.account == "Assets:Bank:Spaar"
    assert link.start_date == dt.date(2026, 10, 1)
    assert link.use_value_date is True
    assert link.balance_assertions is False
    assert link.time_zone == "UTC"
    assert bean("--config", config, "link", savings, "Assets:Bank:Spaar", "--balance").code == 0
    link = load_config(config).links[savings]
    assert link.balance_assertions is True and link.start_date == dt.date(2026, 10, 1)


def test_a_credentials_file_in_the_ledger_folder_is_refused(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    config = ws.root / "ponto.toml"
    text = re.sub(
        r"(?m)^credentials_file = .*$", 'credentials_file = "secret.json"', config.read_text()
    )
    config.write_text(text, "utf-8")
    run = bean("--config", config, "sync")
    assert run.code == 1
    message = one_error_line(run)
    assert "the ledger's folder" in message and "credentials_file" in message
    assert not ws.output.exists()
    # Outside the ledger's folder, but in a folder Fava's Import page serves:
    outside = ws.root.parent / "downloads"
    ws.ledger.write_text(
        ws.ledger.read_text() + f'2000-01-01 custom "fava-option" "import-dirs" "{outside}"\n',
        encoding="utf-8",
    )
    config.write_text(text.replace("secret.json", str(outside / "s.json")), "utf-8")
    for command in ("sync", "status"):
        run = bean("--config", config, command)
        assert run.code == 1
        assert "import-dirs" in one_error_line(run)


def test_unlinking_names_currency_and_id(bean: Bean, ws: Workspace, sim: Simulator) -> None:
    checking, _, dollars = sim.account_ids
    run = bean("--config", ws.root / "ponto.toml", "unlink", dollars)
    assert run.code == 0, run.err
    assert f"(USD, {dollars})" in run.out and "Assets:Bank:Dollars" in run.out
    assert checking in load_config(ws.root / "ponto.toml").links


def test_run_every_without_a_unit_is_refused(bean: Bean, ws: Workspace) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bean("--config", ws.root / "ponto.toml", "run", "--every", "5")
    assert exit_info.value.code == 2
    assert not ws.output.exists()


# -- the simulator on its own -----------------------------------------------------------------


def test_simulator_help_shows_the_credentials() -> None:
    text = build_parser().format_help()
    assert "demo-client-id" in text and "demo-client-secret" in text
    assert "/_sim/faults" in text


def test_a_restarted_simulator_never_reuses_an_id(tmp_path: Path) -> None:
    """A restart (same defaults, no --seed) books new ids: nothing is dropped as a duplicate."""
    args = build_parser().parse_args(["--today", TODAY.isoformat(), "--transactions", "3"])
    grown = []
    histories = []
    for _ in range(2):
        with simulator_from_args(args) as sim:
            histories.append([t["id"] for t in sim.transactions(sim.account_ids[0])])
            grown.append({sim.grow_once() for _ in range(5)})
    assert histories[0] == histories[1]  # the same bank, its links still valid
    assert not grown[0] & grown[1]
    seeded = build_parser().parse_args(["--today", TODAY.isoformat(), "--seed", "42"])
    runs = []
    for _ in range(2):
        with simulator_from_args(seeded) as sim:
            runs.append(sim.grow_once())
    assert runs[0] == runs[1]  # --seed: reproducible


def test_a_busy_simulator_port_is_one_line(sim: Simulator) -> None:
    port = sim.url.rsplit(":", 1)[1]
    proc = subprocess.run(
        [sys.executable, "-m", "beancount_ponto.simulator", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "busy" in lines[0] and "--port" in lines[0], proc.stderr


def test_a_busy_fava_port_is_one_line_suggesting_port(bean: Bean, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = bean("demo", "--dir", tmp_path / "demo", "--port", str(port))
    assert run.code == 1
    message = one_error_line(run)
    assert f"port {port} on 127.0.0.1 is busy" in message and "--port" in message


def test_the_fava_page_links_with_the_same_validator(tmp_path: Path, sim: Simulator) -> None:
    from tests.test_fava_extension import make_fava

    ws = make_workspace(tmp_path / "books", sim, accounts=0)
    fava = make_fava(ws, "{'auto_fetch': False}")
    savings = sim.account_ids[1]
    refused = fava.post("link", {"ponto_id": savings, "account": "Expenses:Uncategorized"})
    assert refused.status_code == 400
    assert "not an asset or liability account" in refused.get_json()["error"]
    assert load_config(ws.root / "ponto.toml").links == {}


def test_unlinking_the_last_table_keeps_the_comments_after_it(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    config = ws.root / "ponto.toml"
    checking = sim.account_ids[0]
    text = commented(ws, sim)
    config.write_text(text, encoding="utf-8")
    assert bean("--config", config, "link", checking, "Assets:Bank:Checking").code == 0
    notes = '\n# --- rules, for later ---\n# [[rules]]\n# account = "Expenses:Rent"\n'
    config.write_text(config.read_text() + notes, encoding="utf-8")  # tomlkit: in that table
    assert bean("--config", config, "unlink", checking).code == 0
    after = config.read_text()
    assert f"[accounts.{checking}]" not in after
    assert '# --- rules, for later ---\n# [[rules]]\n# account = "Expenses:Rent"\n' in after
    assert after.startswith(text.rstrip("\n"))
