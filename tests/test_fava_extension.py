"""The Fava page in a real Fava (create_app + test client) against the simulator.

Every response any test here receives is scanned for the client secret.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from fava.application import create_app
from fava_ponto.page import PageSettings
from flask import Flask
from werkzeug.test import TestResponse

from beancount_ponto.cli.main import main as cli_main
from beancount_ponto.config import load_config, save_config
from beancount_ponto.simulator import Simulator
from tests.conftest import Workspace, bean_check, make_workspace

PAGE = "/test/extension/FavaPonto/"
WRONG_SECRET = "not-the-secret-0f7c"
XSS = "<img src=x onerror=alert(1)>"


def add_extension(ledger: Path, literal: str | None = None) -> None:
    """Load fava_ponto from ``ledger`` (with an optional config literal)."""
    line = '2000-01-01 custom "fava-extension" "fava_ponto"'
    line += f' "{literal}"\n' if literal else "\n"
    text = ledger.read_text(encoding="utf-8")
    anchor = 'option "operating_currency" "EUR"\n'
    ledger.write_text(text.replace(anchor, anchor + line), encoding="utf-8")


class Fava:
    """A Fava test client that checks every answer for leaked secrets."""

    def __init__(self, app: Flask, secrets: list[str]) -> None:
        self.app = app
        self.client = app.test_client()
        self.secrets = secrets
        self.seen = 0

    @property
    def ledger(self) -> Any:
        return self.app.config["LEDGERS"]["test"]

    @property
    def ext(self) -> Any:
        return self.ledger.extensions.get_extension("FavaPonto")

    def open(self, path: str, method: str = "GET", **kwargs: Any) -> TestResponse:
        response = self.client.open(path, method=method, **kwargs)
        body = response.get_data(as_text=True)
        for secret in self.secrets:
            assert secret not in body, f"secret leaked by {method} {path}"
        self.seen += 1
        return response

    def page(self, query: str = "") -> str:
        response = self.open(PAGE + query)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def post(self, endpoint: str, body: Any = None, **kwargs: Any) -> TestResponse:
        if "data" not in kwargs and "json" not in kwargs:
            kwargs["json"] = {} if body is None else body
        return self.open(PAGE + endpoint, "POST", **kwargs)

    def wait_job(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.open(PAGE + "job").get_json()["data"]
            if job and job["state"] != "running":
                return dict(job)
            time.sleep(0.1)
        raise AssertionError("the job did not finish")


def make_fava(ws: Workspace, literal: str | None = None, *, read_only: bool = False) -> Fava:
    add_extension(ws.ledger, literal)
    app = create_app([str(ws.ledger)], load=True, poll_watcher=True, read_only=read_only)
    app.testing = True
    return Fava(app, [ws.sim.client_secret, WRONG_SECRET])


def row_html(html: str, ponto_id: str) -> str:
    """The accounts-table row of one Ponto account."""
    start = html.index(f'<tr data-ponto-id="{ponto_id}"')
    return html[start : html.index("</tr>", start)]


def consent_state(html: str, ponto_id: str) -> str:
    match = re.search(r'data-state="(\w+)" data-testid="consent">', row_html(html, ponto_id))
    assert match
    return match.group(1)


def config_text(ws: Workspace) -> str:
    return (ws.root / "ponto.toml").read_text(encoding="utf-8")


@pytest.fixture
def fava(ws: Workspace) -> Fava:
    """Fava on the workspace, without the automatic fetch on opening."""
    return make_fava(ws, "{'auto_fetch': False}")


def test_page_renders_accounts_consent_and_balances(ws: Workspace, fava: Fava) -> None:
    ws.sync()
    checking, savings, dollars = ws.sim.account_ids
    ws.sim.expire_consent(dollars)
    html = fava.page()
    for pid in ws.sim.account_ids:
        account = ws.sim.account(pid)["attributes"]
        row = row_html(html, pid)
        assert account["reference"] in row
        assert account["description"] in row
        assert account["currency"] in row
        assert "Demo Bank" in row  # the bank's name, from Ponto's financial institution
    assert consent_state(html, checking) == "ok"
    assert consent_state(html, savings) == "expiring"
    assert consent_state(html, dollars) == "expected_passed"
    assert "https://dashboard.myponto.com" in html
    # After a sync the ledger agrees with the bank at the reference date.
    row = row_html(html, checking)
    assert f"{fava.ledger.format_decimal(ws.sim.balance(checking), 'EUR')} EUR" in row
    assert "0 ✓" in row and "ponto-diff" not in row, row
    assert 'data-job-state="none"' in html  # auto_fetch is off here
    assert "does not include" not in html


def test_an_output_file_the_ledger_does_not_include_is_pointed_out(ws: Workspace) -> None:
    text = ws.ledger.read_text(encoding="utf-8")
    ws.ledger.write_text(text.replace('include "ponto.beancount"\n', ""), encoding="utf-8")
    ws.sync()
    html = make_fava(ws, "{'auto_fetch': False}").page()
    assert "does not include" in html and 'include "ponto.beancount"' in html


def test_difference_is_highlighted(ws: Workspace) -> None:
    ws.sync()
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write('\n2000-01-02 * "Typed by hand"\n  Assets:Bank:Savings  -12.34 EUR\n')
        handle.write("  Equity:Opening\n2000-01-01 open Equity:Opening\n")
    fava = make_fava(ws, "{'auto_fetch': False}")
    row = row_html(fava.page(), ws.sim.account_ids[1])
    assert "ponto-diff" in row
    assert "12.34" in row


def test_page_says_when_the_last_deep_check_ran_and_what_it_found(ws: Workspace) -> None:
    fava = make_fava(ws, "{'auto_fetch': False}")
    assert "deep check: never" in row_html(fava.page(), ws.sim.account_ids[0])
    ws.sync()
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write('\n2000-01-02 * "Typed by hand"\n  Assets:Bank:Savings  -12.34 EUR\n')
        handle.write("  Equity:Opening\n2000-01-01 open Equity:Opening\n")
    ws.sync(full=True)
    html = make_fava(ws, "{'auto_fetch': False}").page()
    checking = row_html(html, ws.sim.account_ids[0])
    assert "deep check: <span" in checking
    assert "read 40 in 1 pages, nothing missing; bank balance agrees with the ledger" in checking
    savings = row_html(html, ws.sim.account_ids[1])
    assert "bank balance DIFFERS from the ledger" in savings and "ponto-warn" in savings


def test_js_module_is_served(fava: Fava) -> None:
    response = fava.open("/test/extension_js_module/FavaPonto.js")
    assert response.status_code == 200
    assert b"onExtensionPageLoad" in response.data
    # Data goes into the page with textContent only.
    assert not re.search(
        rb"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", response.data
    )


def test_consent_warning_in_fava_errors_and_status(
    ws: Workspace, fava: Fava, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.sync()
    fava.ledger.load_file()
    errors = fava.open("/test/api/errors").get_json()["data"]
    messages = [e["message"] for e in errors]
    savings = next(m for m in messages if "Assets:Bank:Savings" in m)
    assert "consent expires" in savings and "renew it soon" in savings
    assert cli_main(["--config", str(ws.root / "ponto.toml"), "status"]) == 0
    said = capsys.readouterr().out
    assert savings.split(": ", 2)[2] in said  # bean-ponto status says the same words
    # The warning sits on the extension's own line of the ledger.
    assert next(e for e in errors if e["message"] == savings)["source"]["lineno"] == 3


def test_bean_check_still_passes_with_the_extension(ws: Workspace, fava: Fava) -> None:
    ws.sync()
    assert fava.page()
    assert bean_check(ws.ledger) == []


def test_save_credentials_verifies_before_storing(ws: Workspace, fava: Fava) -> None:
    path = ws.config.credentials_path()
    path.unlink()
    html = fava.page()
    assert ">Client ID</label>" in html and ">Client Secret</label>" in html
    assert "No credentials are stored yet" in html
    bad = fava.post("credentials", {"client_id": ws.sim.client_id, "client_secret": WRONG_SECRET})
    assert bad.status_code == 400
    assert bad.get_json()["success"] is False
    assert "refused" in bad.get_json()["error"]
    assert not path.exists()
    missing = fava.post("credentials", {"client_id": ws.sim.client_id})
    assert missing.status_code == 400 and not path.exists()
    good = fava.post(
        "credentials", {"client_id": ws.sim.client_id, "client_secret": ws.sim.client_secret}
    )
    assert good.status_code == 200, good.get_json()
    assert good.get_json()["data"]["works"] is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["client_secret"] == ws.sim.client_secret
    html = fava.page()
    assert "A secret is stored" in html and ws.sim.client_id in html
    assert ">works<" in html
    overview = fava.open(PAGE + "overview").get_json()["data"]
    assert overview["credentials"]["stored"] is True
    assert fava.seen >= 6  # every answer above was scanned for the secret


def test_link_and_unlink_write_the_config(tmp_path: Path, sim: Simulator) -> None:
    ws = make_workspace(tmp_path / "books", sim, accounts=1)
    fava = make_fava(ws, "{'auto_fetch': False}")
    checking, savings, dollars = sim.account_ids
    html = fava.page()
    assert "<option>Assets:Bank:Savings</option>" in row_html(html, savings)
    # The USD account may not go into an account that is not open for... any currency is fine,
    # but a closed or unknown account never is.
    refused = fava.post("link", {"ponto_id": savings, "account": "Assets:Bank:Nowhere"})
    assert refused.status_code == 400 and savings not in config_text(ws)
    taken = fava.post("link", {"ponto_id": savings, "account": "Assets:Bank:Checking"})
    assert taken.status_code == 400 and "already linked" in taken.get_json()["error"]
    done = fava.post("link", {"ponto_id": savings, "account": "Assets:Bank:Savings"})
    assert done.status_code == 200, done.get_json()
    link = load_config(ws.root / "ponto.toml").links[savings]
    assert link.account == "Assets:Bank:Savings"
    assert link.reference == sim.account(savings)["attributes"]["reference"]
    assert "Assets:Bank:Savings" in row_html(fava.page(), savings)
    gone = fava.post("unlink", {"ponto_id": savings})
    assert gone.status_code == 200
    assert set(load_config(ws.root / "ponto.toml").links) == {checking}
    assert fava.post("unlink", {"ponto_id": dollars}).status_code == 400


@pytest.mark.slow
def test_sync_now_appends_and_the_next_request_shows_it(ws: Workspace, fava: Fava) -> None:
    ws.sync()
    checking = ws.sim.account_ids[0]
    ws.sim.queue_on_sync(checking, 2)  # booked only when Ponto refreshes from the bank
    before = len(fava.open("/test/api/journal").get_json()["data"])
    started = fava.post("sync")
    assert started.status_code == 200
    assert started.get_json()["data"]["started"] is True
    job = fava.wait_job()
    assert job["state"] == "done", job
    assert any("refreshing from the bank" in m for m in job["messages"])
    assert next(a for a in job["accounts"] if a["ponto_id"] == checking)["new"] == 2
    assert any(s.customer_ip == "127.0.0.1" for s in ws.sim.state.syncs.values())
    assert fava.ledger.watcher.last_notified > 0
    after = fava.open("/test/api/journal").get_json()["data"]
    assert len(after) >= before + 2
    assert bean_check(ws.ledger) == []
    html = fava.page()
    assert "fava" in html and ">2<" in html  # the run shows in the history: by fava, 2 new
    again = fava.post("sync").get_json()["data"]
    assert again["started"] is True
    assert "30 min" in json.dumps(fava.wait_job())  # the cooldown is respected and said


def test_opening_a_stale_page_fetches_in_the_background(ws: Workspace) -> None:
    fava = make_fava(ws)
    assert not ws.output.exists() or "ponto_id" not in ws.output_text()
    html = fava.page()
    assert 'data-job-state="running"' in html or 'data-job-state="done"' in html
    job = fava.wait_job()
    assert job["kind"] == "fetch" and job["state"] == "done", job
    assert "ponto_id" in ws.output_text()
    assert not any(s.customer_ip for s in ws.sim.state.syncs.values())  # no bank refresh
    # Fava loaded the ledger before ponto.beancount existed, so it does not watch that
    # file: the page tells it, and the next request shows the entries.
    assert len(fava.open("/test/api/journal").get_json()["data"]) >= 120
    first = job["id"]
    fava.page()  # fresh now: no second fetch
    assert fava.wait_job()["id"] == first


def test_xss_in_bank_text_stays_text(ws: Workspace, fava: Fava) -> None:
    ws.sim.add_transaction(
        ws.sim.account_ids[0],
        "-6.66",
        counterpart_name=XSS,
        remittance_information="<script>alert('x')</script> & <b>bold</b>",
    )
    ws.sync()
    html = fava.page()
    assert "Latest bank transactions" in html
    assert XSS not in html
    assert "\u2039img src=x onerror=alert(1)\u203a" in html  # defused by the converter
    assert "<script>alert" not in html


def test_page_escapes_markup_written_by_hand(ws: Workspace, fava: Fava) -> None:
    """Even text that did not come through the converter stays text on the page."""
    ws.sync()
    with ws.output.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n2026-11-20 * "{XSS}" "<script>alert(2)</script>"\n'
            '  ponto_id: "hand-written-1"\n'
            "  Assets:Bank:Checking  -1.00 EUR\n"
            "  Expenses:Uncategorized  1.00 EUR\n"
        )
    html = fava.page()
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(2)" not in html


@pytest.mark.parametrize(
    ("headers", "kwargs", "status"),
    [
        ({"Origin": "https://evil.example"}, {"json": {}}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, {"json": {}}, 403),
        ({"Origin": "null"}, {"json": {}}, 403),
        ({}, {"data": {"ponto_id": "x", "account": "Assets:Bank:Savings"}}, 415),
        ({}, {"data": "{}", "content_type": "text/plain"}, 415),
        ({"Origin": "https://evil.example"}, {"data": {"ponto_id": "x"}}, 403),
        ({}, {"json": ["not", "an", "object"]}, 400),
    ],
)
def test_cross_site_and_non_json_posts_change_nothing(
    ws: Workspace, fava: Fava, headers: dict[str, str], kwargs: dict[str, Any], status: int
) -> None:
    creds = ws.config.credentials_path()
    before = (config_text(ws), creds.read_bytes())
    savings = ws.sim.account_ids[1]
    for endpoint in ("credentials", "link", "unlink", "sync"):
        if "json" in kwargs and isinstance(kwargs["json"], dict):
            kwargs = {
                "json": {"ponto_id": savings, "account": "Assets:Bank:Savings", "client_id": "x"}
            }
        response = fava.post(endpoint, headers=headers, **kwargs)
        assert response.status_code == status, (endpoint, response.get_data())
        assert response.get_json()["success"] is False
    assert (config_text(ws), creds.read_bytes()) == before
    assert fava.ext.page.job() is None


def test_same_origin_post_is_accepted(ws: Workspace, fava: Fava) -> None:
    savings = ws.sim.account_ids[1]
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert fava.post("unlink", {"ponto_id": savings}, headers=headers).status_code == 200


def test_read_only_fava_shows_the_page_and_refuses_changes(ws: Workspace) -> None:
    save_config(ws.config.with_links({}))
    before = config_text(ws)
    fava = make_fava(ws, read_only=True)
    html = fava.page()
    assert "read-only" in html and 'data-read-only="true"' in html
    assert fava.ext.page.job() is None  # no automatic fetch either
    answer = fava.post("link", {"ponto_id": ws.sim.account_ids[0], "account": "Assets:Bank:X"})
    assert answer.status_code == 401
    assert "read-only" in answer.get_json()["error"]
    assert config_text(ws) == before


def test_settings_literal_is_parsed_once_relative_to_the_ledger(ws: Workspace) -> None:
    fava = make_fava(ws, "{'config': 'ponto.toml', 'fetch_stale_minutes': 5, 'bogus': 1}")
    settings = fava.ext.settings
    assert settings.config_path == ws.root / "ponto.toml"
    assert settings.fetch_stale_minutes == 5
    assert fava.ext.page.config().fetch_stale_minutes == 5
    assert "bogus" in (settings.problem or "")
    join = ws.root.joinpath
    assert PageSettings.parse("other.toml", join).config_path == ws.root / "other.toml"
    assert PageSettings.parse(None, join).config_path == ws.root / "ponto.toml"
    errors = fava.open("/test/api/errors").get_json()["data"]
    assert any("bogus" in e["message"] for e in errors)


def test_ledger_index_is_built_once_per_load(ws: Workspace, fava: Fava) -> None:
    ws.sync()
    fava.ledger.load_file()
    fava.page()
    first = fava.ext.page.index()
    fava.page()
    assert fava.ext.page.index() is first
    fava.ledger.load_file()
    assert fava.ext.page.index() is not first
