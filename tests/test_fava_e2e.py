"""End to end in headless Chromium: what a person does on the Ponto page.

Debian's ``chromium`` driven by Python playwright (never a downloaded browser),
against a real Fava served on a free local port and the Ponto simulator.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fava.application import create_app
from playwright.sync_api import Dialog, Page, expect, sync_playwright
from werkzeug.serving import make_server

from beancount_ponto.config import save_config
from beancount_ponto.simulator import Simulator
from tests.conftest import bean_check, make_workspace
from tests.test_fava_extension import add_extension

pytestmark = pytest.mark.slow  # a real Chromium

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAYEE = "Bakkerij Van Den Bosch"
XSS = "<img src=x onerror=alert(1)>"
DEFUSED = "\u2039img src=x onerror=alert(1)\u203a"


@pytest.fixture
def served(tmp_path: Path, sim: Simulator) -> Iterator[tuple[str, Path]]:
    """Fava with the extension, no credentials stored and nothing linked; (base URL, root)."""
    ws = make_workspace(tmp_path / "books", sim)
    ws.config.credentials_path().unlink()
    save_config(ws.config.with_links({}))
    add_extension(ws.ledger)
    app = create_app([str(ws.ledger)], load=True, poll_watcher=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ws.root
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium package"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(20_000)
        yield tab
        browser.close()


@pytest.mark.timeout(120)
def test_set_up_link_sync_and_see_the_journal(
    served: tuple[str, Path], page: Page, sim: Simulator
) -> None:
    base, root = served
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_dialog(dialog: Dialog) -> None:  # an alert() would mean injected script ran
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    checking = sim.account_ids[0]

    page.goto(f"{base}/test/extension/FavaPonto/")
    expect(page.get_by_text("No credentials are stored yet")).to_be_visible()
    page.get_by_label("Client ID").fill(sim.client_id)
    page.get_by_label("Client Secret").fill(sim.client_secret)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#ponto-message")).to_contain_text("Ponto accepted")
    expect(page.get_by_text("A secret is stored")).to_be_visible()
    assert sim.client_secret not in page.content()

    row = page.locator(f'tr[data-ponto-id="{checking}"]')
    row.get_by_role("combobox").select_option("Assets:Bank:Checking")
    row.get_by_role("button", name="Link").click()
    expect(page.locator("#ponto-message")).to_contain_text("Linked")
    expect(row.locator(".ponto-linked")).to_have_text("Assets:Bank:Checking")
    assert "Assets:Bank:Checking" in (root / "ponto.toml").read_text(encoding="utf-8")

    sim.add_transaction(checking, "-6.66", counterpart_name=XSS)
    sim.add_transaction(checking, "-7.45", counterpart_name=PAYEE)
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#ponto-job")).to_be_visible()
    expect(page.locator("#ponto-job")).to_contain_text("Sync done", timeout=45_000)
    expect(page.locator("#ponto-job")).to_contain_text("Assets:Bank:Checking: 42 new")
    # The hostile counterpart name arrives defused by the converter (‹ › for < >).
    expect(page.locator("#ponto-latest").get_by_text(DEFUSED)).to_be_visible()
    assert problems == []

    page.get_by_role("link", name="Journal").click()
    expect(page.get_by_text(PAYEE).first).to_be_visible()
    expect(page.locator(".journal li.transaction").first).to_be_visible()
    assert page.locator(".journal li.transaction").count() >= 42
    assert bean_check(root / "main.beancount") == []
    # Fava 1.30.16's own journal renders payee and narration without escaping
    # (_journal_table.html); the defused name must show there as text, not run.
    expect(page.get_by_text(DEFUSED).first).to_be_visible()
    page.wait_for_timeout(500)
    assert problems == []
