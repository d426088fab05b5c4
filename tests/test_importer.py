"""The beangulp importer, over real HTTP against the simulator.

Covers the importer API itself, ``python import.py extract`` as a real
process, and Fava's Import page through its JSON API.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data
from beangulp import similar

from beancount_ponto.config import AccountLink, save_config
from beancount_ponto.errors import PontoError
from beancount_ponto.importer import PontoImporter, same_ponto_id
from beancount_ponto.simulator import Simulator
from beancount_ponto.testing import LEDGER_ACCOUNTS
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import all_ids

IMPORT_SCRIPT = """\
import beangulp

from beancount_ponto.importer import PontoImporter

CONFIG = [PontoImporter("ponto.toml", show_duplicates=True)]

if __name__ == "__main__":
    beangulp.Ingest(CONFIG)()
"""

FAVA_OPTIONS = """
2000-01-01 custom "fava-option" "import-config" "import.py"
2000-01-01 custom "fava-option" "import-dirs" "."
"""


def ledger_entries(ws: Workspace) -> list[data.Directive]:
    entries, errors, _options = loader.load_file(str(ws.ledger))
    assert errors == []
    return entries


def by_id(entries: list[Any]) -> dict[str, Any]:
    return {e.meta["ponto_id"]: e for e in entries if "ponto_id" in e.meta}


def later_day() -> dt.date:
    """A booking date after any balance assertion a sync may have written."""
    return max(dt.date.today(), TODAY + dt.timedelta(days=2))


# -- identify, name, account ---------------------------------------------------------


def test_identify_only_the_config_file_and_offline(ws: Workspace, sim: Simulator) -> None:
    importer = PontoImporter(ws.root / "ponto.toml")
    copy = ws.root / "copy" / "ponto.toml"
    copy.parent.mkdir()
    copy.write_text((ws.root / "ponto.toml").read_text())
    sim.reset_log()

    assert importer.identify(str(ws.root / "ponto.toml")) is True
    assert importer.identify(str(ws.root / "." / "ponto.toml")) is True
    for other in (ws.ledger, copy, ws.root / "missing.toml", ws.root):
        assert importer.identify(str(other)) is False
    assert importer.name == f"ponto:{ws.root / 'ponto.toml'}"
    assert importer.account(str(ws.root / "ponto.toml")) in LEDGER_ACCOUNTS
    assert importer.date(str(ws.root / "ponto.toml")) is None
    assert sim.request_log == []


def test_names_are_unique_per_config(tmp_path: Path, sim: Simulator) -> None:
    one = make_workspace(tmp_path / "one", sim, accounts=1)
    two = make_workspace(tmp_path / "two", sim, accounts=2)
    names = {
        PontoImporter(one.root / "ponto.toml").name,
        PontoImporter(two.root / "ponto.toml").name,
    }
    assert len(names) == 2
    assert PontoImporter(one.root / "ponto.toml", name="bank").name == "bank"

    # Fava refuses duplicate names: two configs in one import script load fine.
    from fava.core.ingest import load_import_config

    script = tmp_path / "import.py"
    script.write_text(
        "from beancount_ponto.importer import PontoImporter\n"
        'CONFIG = [PontoImporter("one/ponto.toml"), PontoImporter("two/ponto.toml")]\n'
    )
    loaded = load_import_config(script)
    assert sorted(loaded.importers) == sorted(names)


def test_a_relative_path_is_relative_to_the_import_script(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws.root / "import.py").write_text(IMPORT_SCRIPT)
    monkeypatch.chdir(tmp_path)  # somewhere else, as when Fava was started elsewhere
    (importer,) = runpy.run_path(str(ws.root / "import.py"))["CONFIG"]
    assert importer.config_path == ws.root / "ponto.toml"
    assert importer.identify(str(ws.root / "ponto.toml")) is True


def test_account_never_raises(tmp_path: Path) -> None:
    broken = tmp_path / "ponto.toml"
    broken.write_text("accounts = [\n")
    importer = PontoImporter(broken)
    assert importer.identify(str(broken)) is True
    assert importer.account(str(broken)) == "Assets:Ponto"


# -- extract and deduplicate ---------------------------------------------------------------


def test_extract_with_the_existing_keyword(ws: Workspace, sim: Simulator) -> None:
    importer = PontoImporter(ws.root / "ponto.toml")
    entries = importer.extract(str(ws.root / "ponto.toml"), existing=[])
    assert set(by_id(entries)) == all_ids(sim)
    assert len(entries) == 120
    for entry in entries:
        assert isinstance(entry, data.Transaction)
        data.sanity_check_types(entry)
        assert entry.postings[0].account in LEDGER_ACCOUNTS
        units = entry.postings[0].units
        assert units is not None and units.number is not None
        credit = units.number > 0
        placeholder = "Income:Uncategorized" if credit else "Expenses:Uncategorized"
        assert entry.postings[1].account == placeholder  # nothing to learn from yet
        assert "__duplicate__" not in entry.meta
    importer.deduplicate(entries, existing=[])
    assert not any("__duplicate__" in e.meta for e in entries)


def test_duplicates_are_marked_by_ponto_id(ws: Workspace, sim: Simulator) -> None:
    ws.sync()
    existing = ledger_entries(ws)
    known = by_id(existing)
    day = later_day()
    new_ids = {
        sim.add_transaction(sim.account_ids[0], "-20.00", execution_date=day),
        sim.add_transaction(sim.account_ids[2], "15.00", execution_date=day),
    }
    # By default only what is new is offered (Fava's Import page)...
    only_new = PontoImporter(ws.root / "ponto.toml").extract(str(ws.config.path), existing)
    assert set(by_id(only_new)) == new_ids
    # ...with show_duplicates the known ones come too, marked.
    importer = PontoImporter(ws.root / "ponto.toml", show_duplicates=True)
    entries = importer.extract(str(ws.config.path), existing=existing)
    importer.sort(entries)
    importer.deduplicate(entries, existing=existing)
    assert new_ids < set(by_id(entries))
    for entry in entries:
        pid = entry.meta["ponto_id"]
        if pid in new_ids:
            assert "__duplicate__" not in entry.meta
        else:
            assert entry.meta["__duplicate__"] is known[pid]


def test_same_amount_and_date_are_not_duplicates(ws: Workspace, sim: Simulator) -> None:
    checking = sim.account_ids[0]
    day = later_day()
    twin = {"counterpart_name": "Parking Center", "remittance_information": "Parking"}
    first = sim.add_transaction(checking, "-3.00", execution_date=day, **twin)  # type: ignore[arg-type]
    ws.sync()
    existing = ledger_entries(ws)
    second = sim.add_transaction(checking, "-3.00", execution_date=day, **twin)  # type: ignore[arg-type]
    third = sim.add_transaction(checking, "-3.00", execution_date=day, **twin)  # type: ignore[arg-type]

    importer = PontoImporter(ws.root / "ponto.toml", show_duplicates=True)
    entries = by_id(importer.extract(str(ws.config.path), existing=existing))
    new = [entries[second], entries[third]]
    old = by_id(existing)[first]
    # beangulp's default heuristic would call these duplicates...
    assert similar.heuristic_comparator()(entries[second], old)
    # ...the importer does not: only the same ponto_id is a duplicate.
    assert not same_ponto_id(entries[second], old)
    assert same_ponto_id(entries[first], old)
    importer.deduplicate(list(entries.values()), existing=existing)
    assert entries[first].meta["__duplicate__"] is old
    for entry in new:
        assert "__duplicate__" not in entry.meta

    # Same within one extraction: two new twins are not duplicates of each other.
    importer.deduplicate(new[:1], existing=new[1:])
    assert "__duplicate__" not in new[0].meta


def test_one_failing_account_does_not_hide_the_others(
    ws: Workspace, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.revoke_consent(sim.account_ids[1], refuse_reads=True)
    importer = PontoImporter(ws.root / "ponto.toml")
    with caplog.at_level(logging.WARNING, logger="beancount_ponto.importer"):
        entries = importer.extract(str(ws.config.path), existing=[])
    ids = set(by_id(entries))
    assert {t["id"] for t in sim.transactions(sim.account_ids[0])} <= ids
    assert ids.isdisjoint(t["id"] for t in sim.transactions(sim.account_ids[1]))
    assert "Assets:Bank:Savings" in caplog.text

    for account_id in sim.account_ids:
        sim.revoke_consent(account_id, refuse_reads=True)
    with pytest.raises(PontoError, match="consent"):
        importer.extract(str(ws.config.path), existing=[])


def test_extract_without_links_is_a_clear_error(tmp_path: Path, sim: Simulator) -> None:
    ws = make_workspace(tmp_path / "bare", sim, accounts=0)
    with pytest.raises(PontoError, match="no Ponto account is linked"):
        PontoImporter(ws.root / "ponto.toml").extract(str(ws.config.path), existing=[])


# -- python import.py extract, as a real process ---------------------------------------------


def run_import(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PONTO_", "BEAN_PONTO"))}
    return subprocess.run(
        [sys.executable, "import.py", *args],
        cwd=ws.root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_import_script_extract_marks_what_the_ledger_has(tmp_path: Path, sim: Simulator) -> None:
    checking, savings, dollars = sim.account_ids
    # A partial sync: only checking and savings are linked at first...
    ws = make_workspace(tmp_path / "books", sim, accounts=2)
    ws.sync()
    old = {t["id"] for account in (checking, savings) for t in sim.transactions(account)}
    # ...then the dollar account is linked too, and the bank books two more.
    usd = sim.account(dollars)["attributes"]
    link = AccountLink(dollars, "Assets:Bank:Dollars", usd["reference"], "USD")
    save_config(ws.config.with_links({**ws.config.links, dollars: link}))
    (ws.root / "import.py").write_text(IMPORT_SCRIPT)
    day = later_day()
    fresh = {
        sim.add_transaction(checking, "-42.00", execution_date=day, counterpart_name="Brico"),
        sim.add_transaction(savings, "100.00", execution_date=day),
    }
    new = fresh | {t["id"] for t in sim.transactions(sim.account_ids[2])}
    ledger_before = ws.output.read_bytes()

    proc = run_import(ws, "extract", "ponto.toml", "-e", "main.beancount")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert sim.client_secret not in out + proc.stderr
    assert f"**** {ws.root / 'ponto.toml'}" in out
    lines = out.splitlines()
    for pid in old:
        (line,) = [line for line in lines if pid in line]
        assert line.startswith(";"), line
    for pid in new:
        (line,) = [line for line in lines if pid in line]
        assert line == f'  ponto_id: "{pid}"'
    assert out.count("; duplicate of ") == len(old)
    assert f"; duplicate of {ws.output}:" in out
    assert ws.output.read_bytes() == ledger_before  # extract writes nothing

    # Appending what it printed (the usual habit) gives a valid ledger.
    with ws.output.open("a") as handle:
        handle.write("\n" + out)
    assert bean_check(ws.ledger) == []
    assert set(by_id(ledger_entries(ws))) == old | new

    proc = run_import(ws, "identify", ".")
    assert proc.returncode == 0, proc.stderr
    assert f"ponto:{ws.root / 'ponto.toml'}" in proc.stdout + proc.stderr


# -- Fava's Import page --------------------------------------------------------------------------


def test_fava_import_page_lists_and_extracts(ws: Workspace, sim: Simulator) -> None:
    from fava.application import create_app

    (ws.root / "import.py").write_text(IMPORT_SCRIPT)
    with ws.ledger.open("a") as handle:
        handle.write(FAVA_OPTIONS)
    ws.sync()
    assert bean_check(ws.ledger) == []
    new_id = sim.add_transaction(sim.account_ids[0], "-9.99", execution_date=later_day())
    sim.reset_log()

    app = create_app([str(ws.ledger)], load=True, poll_watcher=True)
    app.testing = True
    client = app.test_client()
    response = client.get("/test/api/imports")
    assert response.status_code == 200, response.get_data(as_text=True)
    files = {f["name"]: f for f in response.get_json()["data"]}
    config_file = files[str(ws.root / "ponto.toml")]
    (info,) = config_file["importers"]
    assert info["importer_name"] == f"ponto:{ws.root / 'ponto.toml'}"
    assert info["account"] in LEDGER_ACCOUNTS
    assert all(not f["importers"] for name, f in files.items() if name != config_file["name"])
    assert sim.request_log == []  # listing never talks to Ponto

    response = client.get(
        "/test/api/extract",
        query_string={"filename": config_file["name"], "importer": info["importer_name"]},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    entries = response.get_json()["data"]
    extracted = {e["meta"]["ponto_id"]: e for e in entries}
    assert new_id in extracted
    assert "__duplicate__" not in extracted[new_id]["meta"]
    assert len(entries) > 1
    for pid, entry in extracted.items():
        if pid != new_id:
            assert entry["meta"]["__duplicate__"]
            assert entry["meta"]["__duplicate__"]["meta"]["ponto_id"] == pid


def test_fava_import_page_with_a_broken_config_still_lists(ws: Workspace) -> None:
    from fava.application import create_app

    (ws.root / "import.py").write_text(IMPORT_SCRIPT)
    with ws.ledger.open("a") as handle:
        handle.write(FAVA_OPTIONS)
    (ws.root / "ponto.toml").write_text("accounts = [\n")
    app = create_app([str(ws.ledger)], load=True, poll_watcher=True)
    app.testing = True
    response = app.test_client().get("/test/api/imports")
    assert response.status_code == 200
    files = {f["name"]: f for f in response.get_json()["data"]}
    assert files[str(ws.root / "ponto.toml")]["importers"]


def test_an_entry_deleted_after_a_sync_is_not_offered_again(ws: Workspace, sim: Simulator) -> None:
    ws.sync()
    text = ws.output.read_text(encoding="utf-8")
    victim = sim.transactions(sim.account_ids[0])[3]["id"]
    start = text.index(f'  ponto_id: "{victim}"')
    start = text.rindex("\n\n", 0, start) + 2
    end = text.find("\n\n", start)
    ws.output.write_text(text[:start] + text[end + 2 :], encoding="utf-8")
    existing, _errors, _options = loader.load_file(str(ws.ledger))  # its balance now fails
    assert victim not in by_id(existing)
    importer = PontoImporter(ws.root / "ponto.toml", show_duplicates=True)
    entries = importer.extract(str(ws.root / "ponto.toml"), existing=existing)
    assert victim not in by_id(entries)
    assert len(entries) == 119  # every other one, to be marked as duplicates
    only_new = PontoImporter(ws.root / "ponto.toml").extract(str(ws.root / "ponto.toml"), existing)
    assert only_new == []
