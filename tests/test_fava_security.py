"""Issue 10, security and the Import page: framing, Host names, bean-ponto's own files.

All in a real Fava (create_app + test client) against the simulator.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.test_fava_extension import PAGE, Fava, make_fava

IMPORT_SCRIPT = """\
from beancount_ponto.importer import PontoImporter

CONFIG = [PontoImporter("ponto.toml")]
"""


@pytest.fixture
def fava(ws: Workspace) -> Fava:
    """Fava on the workspace, without the automatic fetch on opening."""
    return make_fava(ws, "{'auto_fetch': False}")


def test_page_and_endpoints_may_not_be_framed(fava: Fava) -> None:
    answers = [
        fava.open(PAGE),
        fava.open(PAGE + "overview"),
        fava.open(PAGE + "job"),
        fava.post("unlink", {"ponto_id": "nope"}),
        fava.open("/test/extension_js_module/FavaPonto.js"),
    ]
    for response in answers:
        assert response.headers.get("X-Frame-Options") == "DENY", response.request.path
        assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", "")


@pytest.mark.parametrize("host", ["evil.example:5000", "evil.example", "127.0.0.1.evil.example"])
def test_a_foreign_host_name_is_refused(ws: Workspace, fava: Fava, host: str) -> None:
    """DNS rebinding: the attacker's name resolves to 127.0.0.1 and the Origin matches it."""
    headers = {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    started = fava.post("sync", headers=headers)
    assert started.status_code == 403
    error = started.get_json()["error"]
    assert "not served as" in error and "hosts" in error and "\n" not in error
    assert fava.ext.page.job() is None
    page = fava.open(PAGE, headers={"Host": host})
    assert page.status_code == 403
    assert page.get_data(as_text=True).count("\n") == 1  # one line
    assert fava.open(PAGE + "overview", headers={"Host": host}).status_code == 403
    # The rest of Fava is not this extension's to police.
    assert fava.open("/test/api/errors", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "127.0.0.1:5000", "127.3.4.5", "[::1]:8080"]
)
def test_loopback_names_are_served(fava: Fava, host: str) -> None:
    assert fava.open(PAGE, headers={"Host": host}).status_code == 200
    origin = {"Host": host, "Origin": f"http://{host}"}
    assert fava.post("unlink", {"ponto_id": "nope"}, headers=origin).status_code == 400


def test_hosts_listed_in_the_config_are_served(ws: Workspace) -> None:
    fava = make_fava(ws, "{'auto_fetch': False, 'hosts': ['Books.LAN']}")
    assert fava.open(PAGE, headers={"Host": "books.lan:5000"}).status_code == 200
    assert fava.open(PAGE, headers={"Host": "other.lan:5000"}).status_code == 403


def test_a_bad_hosts_setting_is_reported(ws: Workspace) -> None:
    fava = make_fava(ws, "{'auto_fetch': False, 'hosts': 'books.lan'}")
    assert "hosts must be a list" in (fava.ext.settings.problem or "")
    assert fava.open(PAGE, headers={"Host": "books.lan"}).status_code == 403


def import_page(ws: Workspace) -> Fava:
    """Fava with a documents folder and the Import page on the ledger's folder."""
    (ws.root / "import.py").write_text(IMPORT_SCRIPT, encoding="utf-8")
    (ws.root / "documents").mkdir()
    text = ws.ledger.read_text(encoding="utf-8")
    extra = (
        'option "documents" "documents"\n'
        '2000-01-01 custom "fava-option" "import-config" "import.py"\n'
        '2000-01-01 custom "fava-option" "import-dirs" "."\n'
    )
    anchor = 'option "operating_currency" "EUR"\n'
    ws.ledger.write_text(text.replace(anchor, anchor + extra), encoding="utf-8")
    return make_fava(ws, "{'auto_fetch': False}")


def test_move_on_the_import_page_cannot_file_ponto_toml_away(ws: Workspace) -> None:
    ws.sync()
    fava = import_page(ws)
    config = ws.root / "ponto.toml"
    files = fava.open("/test/api/imports").get_json()["data"]
    offered = next(f for f in files if f["name"] == str(config))
    info = offered["importers"][0]
    moved = fava.open(
        "/test/api/move",
        "PUT",
        json={
            "filename": str(config),
            "account": info["account"],
            "new_name": f"{info['date']}.{info['name']}",
        },
    )
    assert moved.status_code == 400
    assert "belongs to bean-ponto" in moved.get_json()["error"]
    assert config.exists()
    assert not any((ws.root / "documents").rglob("*ponto*"))
    for own in (config, ws.output):
        deleted = fava.open("/test/api/document", "DELETE", query_string={"filename": str(own)})
        assert deleted.status_code == 400 and own.exists()
    # Other files are still Fava's to move.
    other = ws.root / "statement.csv"
    other.write_text("x\n", encoding="utf-8")
    ok = fava.open(
        "/test/api/move",
        "PUT",
        json={"filename": str(other), "account": "Assets:Bank:Checking", "new_name": "s.csv"},
    )
    assert ok.status_code == 200, ok.get_data()
    assert (ws.root / "documents" / "Assets" / "Bank" / "Checking" / "s.csv").exists()
    # And the page still knows every link.
    assert "not linked" not in fava.page() and Path(config).read_text(encoding="utf-8")


def test_extract_offers_only_what_is_new(ws: Workspace) -> None:
    ws.sync()
    checking = ws.sim.account_ids[0]
    ws.sim.add_transaction(checking, "-42.50", counterpart_name="Only this one")
    fava = import_page(ws)
    config = ws.root / "ponto.toml"
    files = fava.open("/test/api/imports").get_json()["data"]
    importer = next(f for f in files if f["name"] == str(config))["importers"][0]
    answer = fava.open(
        "/test/api/extract",
        query_string={"filename": str(config), "importer": importer["importer_name"]},
    )
    assert answer.status_code == 200, answer.get_data()
    entries = answer.get_json()["data"]
    assert [e["payee"] for e in entries] == ["Only this one"]
    assert not any(e["meta"].get("__duplicate__") for e in entries)
