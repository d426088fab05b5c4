"""Pending transactions over real HTTP against the simulator: listed, then booked.

Covers the simulator's pending habits (``/_sim/pending``, ``/_sim/book``: a
booked transaction gets a new id), ``bean-ponto pending [--json]``, the sync
(pending never enters the ledger; the booked one arrives once), the optional
pending file (bean-check and balance assertions stay clean) and the Fava page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from beancount_ponto.cli import main as cli
from beancount_ponto.config import load_config, save_config
from beancount_ponto.pending import PENDING_EQUITY, collect, pending_account
from beancount_ponto.simulator import Simulator
from tests.conftest import TODAY, Workspace, bean_check
from tests.helpers import booked_ids
from tests.test_fava_extension import make_fava

SHOP = "Delhaize Elsene"


def pending_ids(sim: Simulator, account: str) -> set[str]:
    return {t["id"] for t in sim.pending_transactions(account)}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def with_pending_file(ws: Workspace, name: str = "ponto-pending.beancount") -> Path:
    config = dataclasses.replace(ws.config, pending_file=ws.root / name)
    save_config(config)
    ws.config = load_config(ws.root / "ponto.toml")
    assert ws.config.pending_file == ws.root / name  # relative to ponto.toml, round-tripped
    return ws.root / name


# -- the simulator -------------------------------------------------------------


def test_simulator_books_a_pending_transaction_under_a_new_id(sim: Simulator) -> None:
    checking = sim.account_ids[0]
    balance = sim.balance(checking)
    pid = sim.add_pending(checking, "-12.30", counterpart_name=SHOP)
    assert pid in pending_ids(sim, checking)
    assert sim.balance(checking) == balance  # pending leaves the balance alone
    booked = sim.book_pending(checking, pid, execution_date=TODAY + dt.timedelta(days=1))
    assert booked != pid
    assert pid not in pending_ids(sim, checking)
    assert booked in booked_ids(sim, checking) and pid not in booked_ids(sim, checking)
    assert sim.balance(checking) == balance - Decimal("12.30")
    with pytest.raises(KeyError):
        sim.book_pending(checking, pid)


def test_simulator_admin_endpoints_add_and_book_pending(sim: Simulator) -> None:
    checking = sim.account_ids[0]
    http = requests.Session()
    added = http.post(
        f"{sim.url}/_sim/pending",
        json={"account": checking, "amount": "-8.5", "counterpartName": SHOP, "id": "p-1"},
    )
    assert added.status_code == 201 and added.json()["id"] == "p-1"
    assert "p-1" in pending_ids(sim, checking)
    booked = http.post(
        f"{sim.url}/_sim/book", json={"account": checking, "id": "p-1", "amount": "-9.10"}
    )
    assert booked.status_code == 201
    new_id = booked.json()["id"]
    assert new_id != "p-1" and new_id in booked_ids(sim, checking)
    served = next(t for t in sim.transactions(checking) if t["id"] == new_id)
    assert served["attributes"]["amount"] == Decimal("-9.10")  # settled for another amount
    assert (
        http.post(f"{sim.url}/_sim/book", json={"account": checking, "id": "p-1"}).status_code
        == 404
    )
    bad = http.post(f"{sim.url}/_sim/pending", json={"account": checking, "amount": "lots"})
    assert bad.status_code == 400


# -- bean-ponto pending --------------------------------------------------------


def test_pending_json_lists_every_linked_account_on_the_banks_day(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")  # the bank's day on any machine
    checking, savings, _dollars = ws.sim.account_ids
    a = ws.sim.add_pending(
        checking, "-42.10", counterpart_name=SHOP, remittance_information="Card 1234"
    )
    b = ws.sim.add_pending(savings, "7", execution_date=TODAY - dt.timedelta(days=1))
    code, out, err = run_cli(capsys, "--config", str(ws.root / "ponto.toml"), "pending", "--json")
    assert code == 0, err
    items = {i["id"]: i for i in json.loads(out)}
    expected = {pid for acc in ws.sim.account_ids for pid in pending_ids(ws.sim, acc)}
    assert set(items) == expected  # the simulator's own pending ones too
    assert items[a] == {
        "id": a,
        "account": "Assets:Bank:Checking",
        "ponto_account_id": checking,
        "date": TODAY.isoformat(),  # served as the bank's midnight in UTC, the day before
        "amount": "-42.10",  # the number Ponto sent, with the currency's cents
        "currency": "EUR",
        "payee": SHOP,
        "narration": "Card 1234",
    }
    assert items[b]["date"] == (TODAY - dt.timedelta(days=1)).isoformat()
    assert Decimal(items[b]["amount"]) == 7 and items[b]["account"] == "Assets:Bank:Savings"
    assert ws.sim.client_secret not in out + err


def test_pending_text_shows_the_available_balance(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    checking = ws.sim.account_ids[0]
    ws.sim.serve_account_attribute(checking, "availableBalance", Decimal("1234.56"))
    ws.sim.add_pending(checking, "-42.10", counterpart_name=SHOP)
    code, out, _err = run_cli(capsys, "--config", str(ws.root / "ponto.toml"), "pending")
    assert code == 0
    assert "Assets:Bank:Checking: available 1,234.56 EUR" in out
    assert SHOP in out and "-42.10 EUR" in out


@pytest.mark.slow
def test_pending_refusal_exits_1_naming_the_account(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    savings = ws.sim.account_ids[1]
    ws.sim.fail_next(5, status=500, path_contains=f"{savings}/pending-transactions")
    code, out, err = run_cli(capsys, "--config", str(ws.root / "ponto.toml"), "pending", "--json")
    assert code == 1
    assert [line for line in err.splitlines() if "Assets:Bank:Savings" in line]
    assert all(i["account"] != "Assets:Bank:Savings" for i in json.loads(out))


# -- the ledger: listed, then booked -----------------------------------------------


def test_pending_never_enters_the_ledger_and_the_booked_one_arrives_once(ws: Workspace) -> None:
    checking = ws.sim.account_ids[0]
    pid = ws.sim.add_pending(checking, "-42.10", counterpart_name=SHOP)
    assert ws.sync().ok
    assert pid not in ws.output_text()
    listed = collect(ws.config, ws.client(), lambda _l, _a: dt.UTC)
    assert pid in {i.id for p in listed for i in p.items}

    booked = ws.sim.book_pending(checking, pid, execution_date=TODAY + dt.timedelta(days=1))
    assert ws.sync().ok
    assert ws.sync().ok  # a second run writes nothing again
    text = ws.output_text()
    assert text.count(f'ponto_id: "{booked}"') == 1
    assert pid not in text
    listed = collect(ws.config, ws.client(), lambda _l, _a: dt.UTC)
    assert pid not in {i.id for p in listed for i in p.items}
    assert bean_check(ws.ledger) == []


# -- the optional pending file ---------------------------------------------------------


def test_pending_file_is_off_by_default(ws: Workspace) -> None:
    ws.sim.add_pending(ws.sim.account_ids[0], "-1")
    ws.sync()
    assert ws.config.pending_file is None
    assert not list(ws.root.glob("*pending*"))


def test_pending_file_flags_them_and_keeps_bean_check_and_assertions_clean(
    ws: Workspace,
) -> None:
    checking = ws.sim.account_ids[0]
    path = with_pending_file(ws)
    ws.ledger.write_text(
        ws.ledger.read_text(encoding="utf-8") + 'include "ponto-pending.beancount"\n',
        encoding="utf-8",
    )
    pid = ws.sim.add_pending(checking, "-42.10", counterpart_name=SHOP)
    assert ws.sync().ok
    text = path.read_text(encoding="utf-8")
    assert f'ponto_pending_id: "{pid}"' in text
    assert "ponto_id:" not in text  # never taken for a booked entry
    assert f'! "{SHOP}"' in text
    assert f"{pending_account('Assets:Bank:Checking')}  -42.10 EUR" in text
    assert PENDING_EQUITY in text
    # The sync's own balance assertions are there and hold; so does one of the
    # user's dated after the pending entry, on the bank account.
    assert "balance Assets:Bank:Checking" in ws.output_text()
    balance = ws.sim.balance(checking)
    later = TODAY + dt.timedelta(days=2)
    ws.ledger.write_text(
        ws.ledger.read_text(encoding="utf-8")
        + f"{later} balance Assets:Bank:Checking {balance} EUR\n",
        encoding="utf-8",
    )
    assert bean_check(ws.ledger) == []
    assert bean_check(path) == []  # also on its own

    booked = ws.sim.book_pending(checking, pid)
    assert ws.sync().ok
    assert pid not in path.read_text(encoding="utf-8")
    assert ws.output_text().count(f'ponto_id: "{booked}"') == 1
    ws.ledger.write_text(
        ws.ledger.read_text(encoding="utf-8").replace(
            f"{later} balance Assets:Bank:Checking {balance} EUR",
            f"{later} balance Assets:Bank:Checking {balance - Decimal('42.10')} EUR",
        ),
        encoding="utf-8",
    )
    assert bean_check(ws.ledger) == []


def test_pending_file_leaves_out_an_account_it_cannot_read(ws: Workspace) -> None:
    checking = ws.sim.account_ids[0]
    path = with_pending_file(ws)
    pid = ws.sim.add_pending(checking, "-3")
    ws.sync()
    assert pid in path.read_text(encoding="utf-8")
    ws.sim.fail_next(5, status=500, path_contains=f"{checking}/pending-transactions")
    result = ws.sync()
    assert any("Assets:Bank:Checking" in n and "pending file" in n for n in result.notes)
    text = path.read_text(encoding="utf-8")
    assert pid not in text  # never shown both pending and (maybe) booked
    assert "not listed (could not be read): Assets:Bank:Checking" in text
    assert bean_check(path) == []


def test_pending_file_does_not_open_what_the_ledger_opens(ws: Workspace) -> None:
    path = with_pending_file(ws)
    ws.ledger.write_text(
        ws.ledger.read_text(encoding="utf-8")
        + f'2000-01-01 open {PENDING_EQUITY}\ninclude "ponto-pending.beancount"\n',
        encoding="utf-8",
    )
    ws.sim.add_pending(ws.sim.account_ids[0], "-3")
    ws.sync()
    assert f"open {PENDING_EQUITY}" not in path.read_text(encoding="utf-8")
    assert bean_check(ws.ledger) == []


# -- the Fava page ---------------------------------------------------------------------


def test_fava_page_shows_pending_and_available_balance_with_one_request_per_account(
    ws: Workspace,
) -> None:
    checking = ws.sim.account_ids[0]
    ws.sim.serve_account_attribute(checking, "availableBalance", Decimal("987.65"))
    pid = ws.sim.add_pending(checking, "-42.10", counterpart_name=SHOP)
    ws.sync()
    fava = make_fava(ws, "{'auto_fetch': False}")
    ws.sim.reset_log()
    fava.open("/test/income_statement/")  # another Fava page asks Ponto nothing
    assert not [p for _m, p, _s in ws.sim.request_log if "pending" in p]
    html = fava.page()
    start = html.index(f'data-testid="pending-{checking}"')
    block = html[start : html.index("</table>", start)]
    assert "987.65 EUR" in block
    assert f'data-pending-id="{pid}"' in block and SHOP in block and "-42.10 EUR" in block
    asked = [p.split("?")[0] for _m, p, _s in ws.sim.request_log if "pending-transactions" in p]
    assert sorted(asked) == sorted(
        f"/accounts/{a}/pending-transactions" for a in ws.sim.account_ids
    )
    data = fava.open("/test/extension/FavaPonto/overview").get_json()["data"]
    block_json = next(b for b in data["pending"] if b["ponto_id"] == checking)
    assert block_json["available_balance"] == "987.65"
    assert {"id": pid, "amount": "-42.10", "payee": SHOP}.items() <= next(
        i for i in block_json["items"] if i["id"] == pid
    ).items()


def test_pending_file_is_emptied_when_ponto_cannot_list_the_accounts(ws: Workspace) -> None:
    path = with_pending_file(ws)
    pid = ws.sim.add_pending(ws.sim.account_ids[0], "-3")
    ws.sync()
    assert pid in path.read_text(encoding="utf-8")
    ws.sim.fail_next(100, status=500, path_contains="/accounts?")
    assert not ws.sync().ok
    ws.sim.clear_faults()
    text = path.read_text(encoding="utf-8")
    assert pid not in text  # a stale list could show an entry already booked, twice
    assert "not listed (could not be read): Assets:Bank:Checking" in text
    assert bean_check(path) == []


def test_a_sync_reuses_its_account_list_for_the_pending_file(ws: Workspace) -> None:
    with_pending_file(ws)
    ws.sync()
    ws.sim.reset_log()
    ws.sync()
    lists = [p for _m, p, _s in ws.sim.request_log if p.split("?")[0] == "/accounts"]
    assert len(lists) == 1
    pending = [p for _m, p, _s in ws.sim.request_log if "pending-transactions" in p]
    assert len(pending) == len(ws.sim.account_ids)
