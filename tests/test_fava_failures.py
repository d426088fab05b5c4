"""Issue 10, what the page shows when things fail (real Fava + the simulator)."""

from __future__ import annotations

import html as htmllib
import os
import re

import pytest

from beancount_ponto.state import SyncState
from tests.conftest import Workspace
from tests.test_fava_extension import Fava, make_fava, row_html

OUTAGE = "Simulated failure"


@pytest.fixture
def fava(ws: Workspace) -> Fava:
    """Fava on the workspace, without the automatic fetch on opening."""
    return make_fava(ws, "{'auto_fetch': False}")


def visible_text(html: str) -> str:
    """What a reader sees: no style sheet, no tags, no attributes."""
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return htmllib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def errors(fava: Fava) -> list[str]:
    fava.ledger.load_file()
    return [e["message"] for e in fava.open("/test/api/errors").get_json()["data"]]


@pytest.mark.slow
def test_a_ponto_outage_is_a_failure_reported_once(ws: Workspace, fava: Fava) -> None:
    ws.sync()
    checking = ws.sim.account_ids[0]
    fetched = SyncState.load(ws.output).accounts[checking].last_fetch
    ws.sim.fail_next(10_000, 503)
    assert fava.post("sync").status_code == 200
    job = fava.wait_job()
    assert job["state"] == "failed", job
    assert OUTAGE in job["summary"]
    # The failed fetch is not a fetch.
    assert SyncState.load(ws.output).accounts[checking].last_fetch == fetched
    page = fava.page()
    text = visible_text(page)
    assert text.count(OUTAGE) == 1, text
    assert "Sync failed" in text
    for pid in ws.sim.account_ids:  # Ponto could not be asked: nothing says "not shared"
        assert "not shared" not in row_html(page, pid)
    assert sum(OUTAGE in m for m in errors(fava)) == 1


@pytest.mark.slow
def test_an_outage_is_said_once_after_a_restart_too(ws: Workspace, fava: Fava) -> None:
    ws.sync()
    ws.sim.fail_next(10_000, 503)
    fava.post("sync")
    fava.wait_job()
    fava.ext.page.jobs = type(fava.ext.page.jobs)()  # a fresh Fava: no job to show
    text = visible_text(fava.page())
    assert text.count(OUTAGE) == 1, text


def test_a_malformed_config_is_on_fava_errors_page(ws: Workspace, fava: Fava) -> None:
    assert not [m for m in errors(fava) if "ponto.toml" in m]
    config = ws.root / "ponto.toml"
    config.write_text("accounts = [\n", encoding="utf-8")
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert fava.open("/test/api/changed").get_json()["data"] is True  # Fava's own poll
    messages = [e["message"] for e in fava.open("/test/api/errors").get_json()["data"]]
    assert sum("ponto.toml" in m for m in messages) == 1, messages
    text = visible_text(fava.page())
    assert text.count("ponto.toml: ") == 1, text


def test_amounts_show_currency_and_the_ledgers_decimals(ws: Workspace, fava: Fava) -> None:
    checking = ws.sim.account_ids[0]
    ws.sim.add_transaction(checking, "-42.5", counterpart_name="Half a cent short")
    ws.sync()
    assert "-42.50 EUR" in ws.output_text()
    page = fava.page()
    balance = ws.sim.balance(checking)
    shown = fava.ledger.format_decimal(balance, "EUR")
    assert len(shown.rsplit(".", 1)[1]) == 2
    assert f"{shown} EUR" in visible_text(row_html(page, checking))
    latest = page[page.index('id="ponto-latest"') :]
    assert "-42.50 EUR" in visible_text(latest)
