"""Issue 10 in headless Chromium: what a person sees when things fail, at 1280 and 390 px.

Debian's ``chromium`` driven by Python playwright (never a downloaded browser).
Screenshots go to ``$PONTO_SHOTS`` when it is set (for looking at them).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fava.application import create_app
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from beancount_ponto.config import save_config
from beancount_ponto.simulator import Simulator
from beancount_ponto.state import SyncState
from beancount_ponto.state_runs import RunLine, RunRecord
from tests.conftest import Workspace, make_workspace
from tests.test_fava_e2e import CHROMIUM, CHROMIUM_ARGS
from tests.test_fava_extension import WRONG_SECRET, add_extension

pytestmark = pytest.mark.slow  # a real Chromium

LONG_WORD = "https://api.myponto.com/accounts/" + "x" * 160
PAYEE = "Stichting Langenaamvoorbeeldvereniging Voor Zeer Lange Begunstigdenamen"


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    folder = os.environ.get("PONTO_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


@pytest.fixture
def books(tmp_path: Path, sim: Simulator) -> Iterator[tuple[str, Workspace]]:
    """Fava on a linked, synced ledger; (base URL, workspace)."""
    ws = make_workspace(tmp_path / "books", sim)
    add_extension(ws.ledger, "{'auto_fetch': False}")
    app = create_app([str(ws.ledger)], load=True, poll_watcher=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/test/extension/FavaPonto/", ws
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def browser() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium package"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_tab(browser: Any, width: int, height: int = 900) -> Page:
    tab: Page = browser.new_page(viewport={"width": width, "height": height})
    tab.set_default_timeout(20_000)
    return tab


@pytest.mark.timeout(120)
@pytest.mark.parametrize("width", [1280, 390])
def test_tables_fit_with_long_errors_and_text(
    books: tuple[str, Workspace], browser: Any, width: int
) -> None:
    url, ws = books
    checking, savings, _dollars = ws.sim.account_ids
    ws.sim.add_transaction(checking, "-7340.5", counterpart_name=PAYEE)
    ws.sync()
    state = SyncState.load(ws.output)
    at = state.runs[-1].at
    assert at is not None
    lines: dict[str, RunLine] = {}
    for pid, record in state.accounts.items():
        record.health.failed(at, f"Ponto answered 500 for {record.account}: {LONG_WORD}")
        lines[pid] = RunLine(account=record.account or "", error=record.health.last_error)
    run = RunRecord(at=at, source="runner", ok=False, accounts=lines)
    state.runs.append(run)
    state.runs.append(
        dataclasses.replace(run, accounts={savings: RunLine(account="A", error=LONG_WORD + "2")})
    )
    state.save()
    save_config(ws.config.with_links({k: v for k, v in ws.config.links.items() if k != savings}))
    page = open_tab(browser, width)
    page.goto(url)
    expect(page.locator("#ponto-runs")).to_be_visible()
    shoot(page, f"layout-{width}")
    inner = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= inner
    for part in page.locator("#ponto-page > *").all():  # nothing wider than the page
        assert part.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), part.evaluate(
            "e => e.outerHTML.slice(0, 80)"
        )
    right = page.locator("#ponto-page").evaluate("e => e.getBoundingClientRect().right")
    assert right <= inner + 0.5
    for table in ("#ponto-accounts", "#ponto-latest", "#ponto-runs"):
        box = page.locator(table).bounding_box()
        assert box is not None and box["x"] + box["width"] <= inner + 0.5, (table, box, inner)
        fits = page.locator(table).evaluate(
            "t => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1"
        )
        assert fits, table
    buttons = page.locator("#ponto-accounts button")
    assert buttons.count() == 3  # two Unlink, one Link
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner
    for label in ("Amount", "New", "Skipped"):
        cell = page.locator(f'td[data-label="{label}"]').first
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= inner, label
    assert "7340.50 EUR" in page.locator("#ponto-latest").inner_text()
    for table in ("#ponto-accounts", "#ponto-latest", "#ponto-runs"):
        page.locator(table).scroll_into_view_if_needed()
        shoot(page, f"layout-{width}-{table[7:]}", full_page=False)


@pytest.mark.timeout(120)
def test_a_refused_secret_is_said_next_to_the_form(
    books: tuple[str, Workspace], browser: Any
) -> None:
    url, ws = books
    page = open_tab(browser, 1280, 800)
    page.goto(url)
    badge = page.locator("#ponto-credentials .ponto-badge")
    expect(badge).to_have_text("works")
    page.get_by_label("Client Secret").fill(WRONG_SECRET)
    page.get_by_role("button", name="Save").click()
    error = page.locator("#ponto-credentials-error")
    expect(error).to_contain_text("refused")
    expect(error).to_be_in_viewport()
    expect(badge).to_have_count(0)
    assert WRONG_SECRET not in page.content()
    stored = json.loads(ws.config.credentials_path().read_text(encoding="utf-8"))
    assert stored["client_secret"] == ws.sim.client_secret  # the working one is kept
    shoot(page, "refused-secret")


@pytest.mark.timeout(120)
def test_after_sync_the_entries_show_without_fava_s_toast(
    books: tuple[str, Workspace], browser: Any
) -> None:
    url, ws = books
    ws.sync()
    checking = ws.sim.account_ids[0]
    ws.sim.add_transaction(checking, "-12.30", counterpart_name=PAYEE)
    page = open_tab(browser, 1280, 800)
    page.goto(url)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#ponto-job")).to_contain_text("Sync done: 1 new", timeout=45_000)
    expect(page.locator("#ponto-latest")).to_contain_text(PAYEE, timeout=20_000)
    # Fava polls api/changed every 5 s; after its next poll, nothing is left to announce.
    with page.expect_response(lambda r: "/api/changed" in r.url, timeout=15_000):
        pass
    toast = page.locator(".notifications li", has_text="File change detected")
    expect(toast).to_have_count(0)
    covered = page.locator("#ponto-sync").evaluate(
        "b => { const r = b.getBoundingClientRect();"
        " return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) !== b; }"
    )
    assert not covered
    shoot(page, "after-sync")
    page.get_by_role("link", name="Journal").click()
    expect(page.get_by_text(PAYEE).first).to_be_visible()
