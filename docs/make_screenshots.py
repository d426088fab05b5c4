"""Screenshots of the Fava Ponto page in English, Dutch and French, desktop and phone.

Usage (from the repository root, with the venv that has Fava and playwright)::

    python docs/make_screenshots.py [--out docs] [--chromium /usr/bin/chromium]

Starts the Ponto simulator, writes a small ledger that loads ``fava_ponto``,
links two of the three simulator accounts, adds one hand-typed entry (so one
balance differs from the bank's), syncs once, serves Fava on a free local port
once per language (Fava's ``language`` option: ``en``, ``nl``, ``fr``) and saves
``fava-page-{lang}-desktop.png`` (1280 px wide, light) and
``fava-page-{lang}-phone.png`` (390 px wide, dark) with headless Chromium.
Nothing leaves the machine; the browser is the system's, never downloaded.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from contextlib import closing
from pathlib import Path

from fava.application import create_app
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from beancount_ponto.credentials import Credentials
from beancount_ponto.ponto.client import PontoClient
from beancount_ponto.simulator import Simulator
from beancount_ponto.sync import SyncOptions, run_sync
from beancount_ponto.testing import connect

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

LANGUAGES = ("en", "nl", "fr")

LEDGER = """\
option "title" "Household books"
option "operating_currency" "EUR"

2026-01-01 custom "fava-extension" "fava_ponto"
2026-01-01 custom "fava-option" "language" "{language}"

2000-01-01 open Assets:Bank:Checking
2000-01-01 open Assets:Bank:Savings
2000-01-01 open Assets:Bank:Dollars USD
2000-01-01 open Assets:Cash
2000-01-01 open Expenses:Uncategorized

; typed by hand, the bank never saw it: the Savings balance will differ
2026-01-15 * "Transfer to the cash box"
  Assets:Bank:Savings  -200.00 EUR
  Assets:Cash

include "ponto.beancount"
"""


def prepare(root: Path, sim: Simulator) -> Path:
    """Write the ledger, config and credentials; link two accounts; sync once."""
    ledger = root / "main.beancount"
    ledger.write_text(LEDGER.format(language="en"), encoding="utf-8")
    config = connect(
        ledger,
        api_url=sim.url,
        credentials=Credentials(sim.client_id, sim.client_secret),
        credentials_file=root.parent / "secrets" / "credentials.json",  # never in the ledger folder
        account_names=("Assets:Bank:Checking", "Assets:Bank:Savings"),
    )
    client = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url)
    with closing(client):
        run_sync(
            config, client, ledger=ledger, output=root / "ponto.beancount", options=SyncOptions()
        )
    return ledger


def serve(ledger: Path) -> tuple[str, object]:
    """Serve Fava on a free local port in a thread; returns (base URL, server)."""
    app = create_app([str(ledger)], load=True, poll_watcher=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def main() -> None:
    """Make the six screenshots (three languages, desktop and phone)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp, Simulator(seed=7) as sim:
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "xdg")
        root = Path(tmp) / "books"
        root.mkdir()
        ledger = prepare(root, sim)
        # Device, colour scheme, viewport, height of the saved image. On wide screens
        # Fava scrolls inside <article>, so the viewport itself is made tall.
        shots = (
            ("desktop", "light", {"width": 1280, "height": 1400}, 1400),
            ("phone", "dark", {"width": 390, "height": 844}, 1700),
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            for language in LANGUAGES:
                ledger.write_text(LEDGER.format(language=language), encoding="utf-8")
                base, server = serve(ledger)
                url = f"{base}/household-books/extension/FavaPonto/"
                try:
                    for device, scheme, size, height in shots:
                        name = f"fava-page-{language}-{device}.png"
                        page = browser.new_page(viewport=size, color_scheme=scheme)  # type: ignore[arg-type]
                        page.goto(url)
                        page.wait_for_selector("#ponto-accounts")
                        clip = {"x": 0, "y": 0, "width": size["width"], "height": height}
                        page.screenshot(path=str(out / name), full_page=True, clip=clip)  # type: ignore[arg-type]
                        page.close()
                        print(f"wrote {out / name}")
                finally:
                    server.shutdown()  # type: ignore[attr-defined]
            browser.close()


if __name__ == "__main__":
    main()
