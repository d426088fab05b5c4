"""`bean-ponto demo` as a newcomer runs it: simulator, sync, Fava with the Ponto page."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests

from beancount_ponto.cli.demo import DEMO_SEED
from beancount_ponto.simulator import Simulator
from tests.conftest import bean_check

#: What belongs in the tests' data, never in a newcomer's demo.
HOSTILE = re.compile("<script|onerror|<img|<br>|[\u0590-\u08ff\u200b-\u200f\u202a-\u202e]")


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONTO_")}
    return subprocess.run(
        [sys.executable, "-m", "beancount_ponto.cli.main", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def ledger_text(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.beancount")))


@pytest.mark.slow
def test_the_demo_shows_a_belgian_household_not_test_fixtures(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    run = run_demo("--no-fava", "--dir", str(folder))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 errors" in run.stdout
    assert bean_check(folder / "main.beancount") == []
    text = ledger_text(folder)
    assert not HOSTILE.search(text), HOSTILE.search(text)
    assert max(len(line) for line in text.splitlines()) < 250
    synced = (folder / "ponto.beancount").read_text(encoding="utf-8")
    for payee in ("ACME BELGIUM", "PEETERS", "DELHAIZE", "COLRUYT", "ENGIE", "PROXIMUS"):
        assert payee in synced, payee
    # Transfers between the household's own accounts: the counterpart is the other account.
    config = tomllib.loads((folder / "ponto.toml").read_text(encoding="utf-8"))
    ibans = {link["account"]: link["reference"] for link in config["accounts"].values()}
    savings = ibans["Assets:Bank:Savings"].replace(" ", "")
    checking = ibans["Assets:Bank:Checking"].replace(" ", "")
    assert f'counterpart_iban: "{savings}"' in synced
    assert f'counterpart_iban: "{checking}"' in synced
    # The bank's balances agree with a ledger holding the earlier year and the synced one.
    assert run.stdout.count("bank balance agrees with the ledger") == 3, run.stdout


@pytest.mark.slow
def test_the_demo_ledger_holds_the_earlier_year_booked_by_its_user(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    assert run_demo("--no-fava", "--dir", str(folder)).returncode == 0
    main = (folder / "main.beancount").read_text(encoding="utf-8")
    for account in ("Income:Salary", "Expenses:Housing:Rent", "Expenses:Food:Groceries",
                    "Expenses:Utilities:Energy", "Expenses:Telecom"):  # fmt: skip
        assert re.search(rf"^  {account} ", main, re.M), account
    assert "Expenses:Uncategorized  " not in main  # booked, not left on the placeholder
    booked = re.findall(r"^(\d{4}-\d\d-\d\d) \* ", main, re.M)
    synced = re.findall(r"^(\d{4}-\d\d-\d\d) \* ", (folder / "ponto.beancount").read_text(), re.M)
    assert len(booked) > 200 and max(booked) < min(synced)


def test_the_household_simulator_serves_pending_card_payments_and_grows_on_checking() -> None:
    with Simulator(seed=DEMO_SEED, dataset="household") as sim:
        checking = sim.account_ids[0]
        pending = sim.pending_transactions(checking)
        assert len(pending) == 2
        assert all(p["attributes"]["bankTransactionCode"] == "PMNT-CCRD-POSD" for p in pending)
        before = len(sim.transactions(checking))
        new = sim.grow_once()
        served = sim.transactions(checking)
        assert len(served) == before + 1 and served[0]["id"] == new
        assert served[0]["attributes"]["amount"] < 0
        assert not HOSTILE.search(str(served[0]["attributes"]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_demo_serves_the_page_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONTO_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beancount_ponto.cli.main",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
            "--grow-every",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Press Ctrl-C" in line or not line:
            break
    output = "".join(lines)
    try:
        assert re.search(r"Assets:Bank:Checking: \d{3} new", output), output
        url = f"http://127.0.0.1:{port}/ponto-demo/extension/FavaPonto/"
        assert url in output
        page = None
        for _ in range(100):  # the server starts just after printing its address
            try:
                page = requests.get(url, timeout=30)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200
        assert "Ponto" in page.text and "BE" in page.text
        assert bean_check(tmp_path / "demo" / "main.beancount") == []
        # The demo's bank books something new now and then: the next sync brings it.
        config = tmp_path / "demo" / "ponto.toml"
        api = tomllib.loads(config.read_text(encoding="utf-8"))["api_url"]
        first = requests.get(f"{api}/_sim/state", timeout=30).json()["accounts"][0]
        while (
            requests.get(f"{api}/_sim/state", timeout=30).json()["accounts"][0]["transactions"]
            == first["transactions"]
            and time.monotonic() < deadline + 120
        ):
            time.sleep(0.1)
        sync = subprocess.run(
            [sys.executable, "-m", "beancount_ponto.cli.main", "--config", str(config), "sync"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert sync.returncode == 0, sync.stdout + sync.stderr
        assert re.search(r"Assets:Bank:Checking: [1-9]\d* new", sync.stdout), sync.stdout
        assert bean_check(tmp_path / "demo" / "main.beancount") == []
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0
