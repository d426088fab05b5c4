"""In a browser: a "To review" link opens the entry's context in Fava's journal."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fava.application import create_app
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from tests.conftest import make_workspace
from tests.test_fava_e2e import CHROMIUM, CHROMIUM_ARGS
from tests.test_fava_extension import add_extension
from tests.test_fava_review import ENTRIES

if TYPE_CHECKING:
    from beancount_ponto.simulator import Simulator


@pytest.mark.timeout(120)
def test_a_review_link_opens_the_entry_in_favas_journal(tmp_path: Path, sim: Simulator) -> None:
    ws = make_workspace(tmp_path / "books", sim)
    ws.output.write_text(ENTRIES, encoding="utf-8")
    add_extension(ws.ledger, "{'auto_fetch': False}")
    app = create_app([str(ws.ledger)], load=True, poll_watcher=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert Path(CHROMIUM).exists(), "install Debian's chromium package"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(f"http://127.0.0.1:{server.server_port}/test/extension/FavaPonto/")
            expect(page.get_by_test_id("review-count")).to_have_text("2")
            row = page.locator("#ponto-review-list tr", has_text="Unknown shop")
            row.get_by_test_id("review-link").click()
            expect(page).to_have_url(re.compile(r"/test/journal/#context-[0-9a-f]+$"))
            # Fava's context overlay opens on this entry: its source in the editor box.
            source = page.get_by_role("textbox")
            expect(source).to_contain_text('ponto_id: "tx-placeholder"')
            expect(source).not_to_contain_text("tx-guess")
            browser.close()
    finally:
        server.shutdown()
        thread.join(5)
