"""run_sync end to end against the simulator: exactly once, never a broken ledger."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import threading
from pathlib import Path

import pytest

from beancount_ponto import sync as sync_module
from beancount_ponto import sync_run, withdraw
from beancount_ponto.config import load_config
from beancount_ponto.ledger import scan_ledger
from beancount_ponto.simulator import Simulator
from beancount_ponto.state import SyncState
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import ids_in


def of(result: sync_module.SyncResult, ponto_id: str) -> sync_module.AccountResult:
    return next(a for a in result.accounts if a.ponto_id == ponto_id)


def all_sim_ids(sim: Simulator, accounts: list[str] | None = None) -> set[str]:
    return {r["id"] for a in accounts or sim.account_ids for r in sim.transactions(a)}


def test_first_sync_writes_every_transaction_once(ws: Workspace) -> None:
    result = ws.sync()
    assert result.ok
    assert result.included
    text = ws.output_text()
    counts = ids_in(text)
    assert set(counts) == all_sim_ids(ws.sim)
    assert max(counts.values()) == 1
    assert [of(result, i).new for i in ws.sim.account_ids] == [40, 40, 40]
    assert "open Expenses:Uncategorized" in text
    assert text.count("balance Assets:Bank:") == 3
    assert bean_check(ws.ledger) == []


def test_second_run_changes_nothing_and_is_cheap(ws: Workspace) -> None:
    ws.sync()
    before = ws.output.read_bytes()
    client = ws.client()
    client.authenticate()
    ws.sim.reset_log()
    result = sync_module.run_sync(ws.config, client, ledger=ws.ledger, output=ws.output)
    assert result.new == 0
    assert ws.output.read_bytes() == before
    paths = [p for _m, p, _s in ws.sim.request_log]
    assert paths[0].startswith("/accounts?")
    assert len(paths) == 1 + 3  # accounts + one page per linked account
    assert all("/transactions?page[limit]=100" in p for p in paths[1:])


def test_idle_run_with_a_cold_client_costs_one_token_request(ws: Workspace) -> None:
    ws.sync()
    ws.sim.reset_log()
    ws.sync()
    paths = [p for _m, p, _s in ws.sim.request_log]
    assert sum(p.startswith("/oauth2/token") for p in paths) == 1
    assert len(paths) == 1 + 1 + 3


def test_new_transactions_are_appended(ws: Workspace) -> None:
    ws.sync()
    account = ws.sim.account_ids[0]
    new_id = ws.sim.add_transaction(
        account, "-12.34", counterpart_name="Bakkerij", execution_date=TODAY + dt.timedelta(days=1)
    )
    result = ws.sync()
    assert of(result, account).new == 1
    assert ids_in(ws.output_text())[new_id] == 1
    assert bean_check(ws.ledger) == []


def test_late_transaction_breaking_an_assertion_withdraws_it(ws: Workspace) -> None:
    """Bank data changed after we asserted: the ledger must still pass bean-check."""
    ws.sync()
    assert "\n2026-11-21 balance Assets:Bank:Checking" in ws.output_text()
    account = ws.sim.account_ids[0]
    ws.sim.add_transaction(account, "-12.34", execution_date=TODAY - dt.timedelta(days=2))
    result = ws.sync()
    assert any("withdrawn" in n for n in of(result, account).notes)
    text = ws.output_text()
    assert "; 2026-11-21 balance Assets:Bank:Checking" in text
    assert "\n2026-11-21 balance Assets:Bank:Savings" in text
    assert bean_check(ws.ledger) == []


def test_deleted_entry_stays_deleted(ws: Workspace) -> None:
    ws.sync()
    text = ws.output_text()
    victim = ws.sim.transactions(ws.sim.account_ids[0])[5]["id"]
    block = re.search(
        r"\n\n(\d{4}-\d\d-\d\d \*[^\n]*\n  ponto_id: \"" + victim + r"\"\n(?:  [^\n]*\n)*)", text
    )
    assert block
    ws.output.write_text(text.replace(block.group(1), ""), encoding="utf-8")
    ws.sync()  # idle: the id is in the log of written ids, the ledger is not even read
    assert victim not in ws.output_text()
    ws.sim.add_transaction(ws.sim.account_ids[0], "1.00", execution_date=TODAY)
    result = ws.sync()  # a new transaction makes it read the ledger: the deletion is reported
    assert of(result, ws.sim.account_ids[0]).deleted == 1
    assert of(result, ws.sim.account_ids[0]).new == 1
    assert victim not in ws.output_text()
    assert bean_check(ws.ledger) == []


def test_entries_moved_to_another_file_are_not_written_again(
    tmp_path: Path, sim: Simulator
) -> None:
    """Ids already in the ledger count even when bean-ponto never wrote them."""
    ws = make_workspace(tmp_path / "books", sim, accounts=1)
    account = sim.account_ids[0]
    moved = sim.transactions(account)[0]
    other = ws.root / "2026.beancount"
    other.write_text(
        f'2026-11-20 * "Moved by hand"\n  ponto_id: "{moved["id"]}"\n'
        "  Assets:Bank:Checking  0.00 EUR\n",
        encoding="utf-8",
    )
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write('include "2026.beancount"\n')
    result = ws.sync()
    assert result.accounts[0].skipped == 1
    assert moved["id"] not in ws.output_text()
    assert result.accounts[0].new == 39


def test_paging_over_several_pages_writes_all(tmp_path: Path) -> None:
    with Simulator(account_sizes=[345], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        result = ws.sync()
        assert result.accounts[0].new == 345
        counts = ids_in(ws.output_text())
        assert set(counts) == all_sim_ids(sim) and max(counts.values()) == 1
        assert bean_check(ws.ledger) == []


def test_late_transaction_with_an_older_date_is_not_skipped(tmp_path: Path) -> None:
    """The OCA Odoo module lost these: a transaction delivered after newer ones."""
    with Simulator(account_sizes=[20]) as sim:  # dated up to the real today
        today = sim.state.today()
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        account = sim.account_ids[0]
        for n in range(150):
            sim.add_transaction(account, f"-{n + 1}.00", execution_date=today)
        ws.sync()
        late = sim.add_transaction(
            account,
            "-99.99",
            execution_date=today - dt.timedelta(days=3),
            counterpart_name="Late delivery",
        )
        position = [r["id"] for r in sim.transactions(account)].index(late)
        assert position >= 100, "the late transaction must sit on the second page"
        result = ws.sync()
        assert result.accounts[0].new == 1
        assert ids_in(ws.output_text())[late] == 1
        # today's balance is not asserted yet: it could still change with late arrivals
        assert "balance" not in ws.output_text()
        assert bean_check(ws.ledger) == []


def test_nasty_bank_text_keeps_the_ledger_valid(ws: Workspace) -> None:
    ws.sync()
    text = ws.output_text()
    assert bean_check(ws.ledger) == []
    assert '"\u2039img src=x onerror=alert(1)\u203a"' in text  # defused for Fava
    assert "Naam: Jansen | Omschrijving: Huur maart | IBAN: NL91ABNA0417164300" in text
    assert '\\"Chez \\\\ Nous\\"' in text
    entries_by_id = {
        e.meta["ponto_id"]: e
        for e in __import__("beancount.loader").loader.load_file(str(ws.ledger))[0]
        if "ponto_id" in getattr(e, "meta", {})
    }
    raw = {r["id"]: r["attributes"] for r in ws.sim.transactions(ws.sim.account_ids[0])}
    quoted = next(i for i, a in raw.items() if (a.get("counterpartName") or "").startswith("Caf"))
    assert entries_by_id[quoted].payee == raw[quoted]["counterpartName"]


def test_dates_follow_the_bank_time_zone(ws: Workspace) -> None:
    account = ws.sim.account_ids[0]
    tx = ws.sim.add_transaction(account, "-1.00", execution_date=dt.date(2026, 11, 18))
    stamp = next(r for r in ws.sim.transactions(account) if r["id"] == tx)
    assert stamp["attributes"]["executionDate"] == "2026-11-17T23:00:00.000Z"
    ws.sync()
    assert re.search(r'2026-11-18 \* "Demo Counterpart".*\n  ponto_id: "' + tx, ws.output_text())


def test_configured_time_zone_overrides_the_bank(ws: Workspace) -> None:
    account = ws.sim.account_ids[0]
    tx = ws.sim.add_transaction(account, "-1.00", execution_date=dt.date(2026, 11, 18))
    ws.config = dataclasses.replace(ws.config, time_zone="UTC")
    ws.sync()
    assert re.search(r'2026-11-17 \* "Demo Counterpart".*\n  ponto_id: "' + tx, ws.output_text())


def test_one_failing_account_does_not_stop_the_others(ws: Workspace) -> None:
    ws.sim.revoke_consent(ws.sim.account_ids[1], refuse_reads=True)
    result = ws.sync()
    assert not result.ok
    failed = of(result, ws.sim.account_ids[1])
    assert failed.error and "consent" in failed.error and "Ponto" in failed.error
    assert [of(result, i).new for i in ws.sim.account_ids] == [40, 0, 40]
    state = SyncState.load(ws.output)
    assert state.accounts[ws.sim.account_ids[1]].health.failing_since
    assert bean_check(ws.ledger) == []


def test_transient_faults_are_absorbed(ws: Workspace) -> None:
    ws.sim.fail_next(3, status=503, path_contains="/transactions")
    ws.sim.drop_next(2, path_contains="/accounts")
    result = ws.sync()
    assert result.ok
    assert result.new == 120


def test_network_down_fails_every_account_and_writes_nothing(ws: Workspace) -> None:
    ws.sim.drop_next(100)
    result = ws.sync()
    assert not result.ok
    assert all(a.error and "cannot reach Ponto" in a.error for a in result.accounts)
    assert not ids_in(ws.output_text())
    assert bean_check(ws.ledger) == []


def test_crash_before_the_output_is_replaced(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(_output: Path, _text: str) -> None:
        raise SystemExit("power cut")

    monkeypatch.setattr(sync_run, "append_text", crash)  # where batches are written
    with pytest.raises(SystemExit):
        ws.sync()
    assert SyncState.load(ws.output).pending  # the batch was announced, never written
    monkeypatch.undo()
    ws.sync()
    counts = ids_in(ws.output_text())
    assert set(counts) == all_sim_ids(ws.sim) and max(counts.values()) == 1
    assert bean_check(ws.ledger) == []


def test_crash_after_the_output_is_replaced(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(_self: SyncState) -> None:
        raise SystemExit("power cut")

    monkeypatch.setattr(SyncState, "end_batch", crash)
    with pytest.raises(SystemExit):
        ws.sync()
    assert bean_check(ws.ledger) == []
    monkeypatch.undo()
    ws.sync()
    state = SyncState.load(ws.output)
    assert not state.pending
    counts = ids_in(ws.output_text())
    assert set(counts) == all_sim_ids(ws.sim) and max(counts.values()) == 1
    assert all_sim_ids(ws.sim) <= state.written_ids


def test_two_writers_at_once_never_duplicate(ws: Workspace) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ws.sync()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    counts = ids_in(ws.output_text())
    assert set(counts) == all_sim_ids(ws.sim) and max(counts.values()) == 1
    assert bean_check(ws.ledger) == []


def test_refresh_creates_a_synchronization_once_per_cooldown(ws: Workspace) -> None:
    account = ws.sim.account_ids[0]
    ws.sim.queue_on_sync(account, 2)
    messages: list[str] = []
    result = ws.sync(refresh=True, customer_ip="203.0.113.9", progress=messages.append)
    posts = [p for m, p, s in ws.sim.request_log if m == "POST" and p == "/synchronizations"]
    assert len(posts) == 6  # accountDetails and accountTransactions of each account
    assert of(result, account).new == 42
    assert any("success" in m for m in messages)
    ws.sim.reset_log()
    again = ws.sync(refresh=True)
    assert not [p for m, p, _s in ws.sim.request_log if m == "POST" and "synchron" in p]
    assert "refresh skipped" in of(again, account).summary()


def test_plain_sync_never_creates_synchronizations(ws: Workspace) -> None:
    ws.sync()
    assert not [p for m, p, _s in ws.sim.request_log if m == "POST" and "synchron" in p]


def test_balance_not_asserted_when_the_ledger_disagrees(ws: Workspace) -> None:
    with ws.ledger.open("a", encoding="utf-8") as handle:
        handle.write(
            "2000-01-01 open Equity:Opening\n"
            '2020-01-01 * "Opening balance"\n  Assets:Bank:Checking  100.00 EUR\n'
            "  Equity:Opening\n"
        )
    result = ws.sync()
    note = of(result, ws.sim.account_ids[0]).summary()
    assert "differs" in note and "100.00" in note
    assert ws.output_text().count("balance Assets:Bank:Checking") == 0
    assert ws.output_text().count("balance Assets:Bank:Savings") == 1
    assert bean_check(ws.ledger) == []


def test_balance_asserted_once_per_reference_date(ws: Workspace) -> None:
    ws.sync()
    ws.sync()
    account = ws.sim.account_ids[0]
    ws.sim.add_transaction(account, "5.00", execution_date=TODAY + dt.timedelta(days=1))
    ws.sync()
    text = ws.output_text()
    assert text.count("balance Assets:Bank:Checking") == 2
    assert text.count("balance Assets:Bank:Savings") == 1
    assert bean_check(ws.ledger) == []


def test_balance_assertions_can_be_switched_off(ws: Workspace) -> None:
    pid = ws.sim.account_ids[0]
    links = dict(ws.config.links)
    links[pid] = dataclasses.replace(links[pid], balance_assertions=False)
    ws.config = ws.config.with_links(links)
    ws.sync()
    assert "balance Assets:Bank:Checking" not in ws.output_text()


def test_output_not_included_is_reported(ws: Workspace) -> None:
    ws.ledger.write_text(ws.ledger.read_text().replace('include "ponto.beancount"', ""))
    result = ws.sync()
    assert not result.included
    assert result.new == 120
    assert "balance" not in ws.output_text()  # cannot be checked against the ledger


def test_start_date_limits_the_backfill(ws: Workspace) -> None:
    pid = ws.sim.account_ids[0]
    start = TODAY - dt.timedelta(days=10)
    links = dict(ws.config.links)
    links[pid] = dataclasses.replace(links[pid], start_date=start, balance_assertions=False)
    ws.config = ws.config.with_links(links)
    ws.sync()
    dates = [
        e.date
        for e in __import__("beancount.loader").loader.load_file(str(ws.ledger))[0]
        if getattr(e, "postings", None) and e.postings[0].account == "Assets:Bank:Checking"
    ]
    assert dates and min(dates) >= start


def test_large_backfill_is_written_oldest_first_in_batches(tmp_path: Path) -> None:
    with Simulator(account_sizes=[1200], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        progress: list[str] = []
        result = ws.sync(progress=progress.append)
        assert result.accounts[0].new == 1200
        assert any("wrote 500 of 1200" in m for m in progress)
        dates = re.findall(r"^(\d{4}-\d\d-\d\d) \*", ws.output_text(), re.MULTILINE)
        assert dates == sorted(dates)
        assert bean_check(ws.ledger) == []


def test_stop_between_batches_then_complete_exactly_once(tmp_path: Path) -> None:
    with Simulator(account_sizes=[1200], today=TODAY) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=1)
        batches = 0

        def stop_after_first_batch() -> bool:
            return batches >= 1

        original = SyncState.end_batch

        def counting(self: SyncState) -> None:
            nonlocal batches
            original(self)
            batches += 1

        SyncState.end_batch = counting  # type: ignore[method-assign]
        try:
            first = ws.sync(should_stop=stop_after_first_batch)
        finally:
            SyncState.end_batch = original  # type: ignore[method-assign]
        assert first.stopped
        assert 0 < len(ids_in(ws.output_text())) < 1200
        assert bean_check(ws.ledger) == []
        ws.sync()
        counts = ids_in(ws.output_text())
        assert set(counts) == all_sim_ids(sim) and max(counts.values()) == 1


def test_dry_run_writes_nothing(ws: Workspace) -> None:
    result = ws.sync(dry_run=True)
    assert result.new == 120
    assert set(ids_in(result.entries_text)) == all_sim_ids(ws.sim)
    assert not ws.output.exists()
    assert not SyncState.load(ws.output).runs


def test_config_round_trip_keeps_links(ws: Workspace) -> None:
    again = load_config(ws.config.path)
    assert again.links == ws.config.links
    assert scan_ledger(ws.ledger).open_accounts >= {"Assets:Bank:Checking"}


# -- regressions found in review ---------------------------------------------------


def test_a_recheck_remembered_by_an_older_version_is_done_next_run(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older versions appended first and withdrew after, remembering the recheck."""
    ws.sync()
    account = ws.sim.account_ids[0]
    ws.sim.add_transaction(account, "-5.00", execution_date=TODAY - dt.timedelta(days=5))
    monkeypatch.setattr(withdraw, "failing_assertions", lambda *_args: [])
    ws.sync()  # appended without the withdrawal, as the older version did before its crash
    monkeypatch.undo()
    assert bean_check(ws.ledger)
    path = SyncState.load(ws.output).state_path  # as version 1 kept the flag
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["version"], raw["extra"] = 1, {"recheck_balances": True}
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert SyncState.load(ws.output).recheck_balances
    ws.sync()  # nothing new at Ponto: the remembered recheck repairs the ledger
    assert bean_check(ws.ledger) == []
    assert "; 2026-11-21 balance Assets:Bank:Checking" in ws.output_text()
    assert not SyncState.load(ws.output).recheck_balances


def test_transactions_before_the_ledgers_open_are_refused(ws: Workspace) -> None:
    text = ws.ledger.read_text(encoding="utf-8")
    ws.ledger.write_text(
        text.replace(
            "2000-01-01 open Assets:Bank:Checking", "2026-11-01 open Assets:Bank:Checking"
        ),
        encoding="utf-8",
    )
    checking = ws.sim.account_ids[0]
    result = ws.sync()
    error = of(result, checking).error
    assert error and "predate" in error and "start_date" in error
    assert of(result, ws.sim.account_ids[1]).new == 40
    assert bean_check(ws.ledger) == []
    ws.ledger.write_text(text, encoding="utf-8")  # the user moves the open back
    again = ws.sync()
    assert of(again, checking).new == 40
    assert bean_check(ws.ledger) == []


def test_failed_bank_time_zone_lookup_fails_the_account_not_its_dates(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")  # a guessed zone would date Brussels midnight a day early
    ws.sim.fail_next(100, status=503, path_contains="/financial-institutions")
    result = ws.sync()
    assert all(a.error for a in result.accounts)
    assert not ids_in(ws.output_text())
    ws.sim.clear_faults()
    account = ws.sim.account_ids[0]
    tx = ws.sim.add_transaction(account, "-1.00", execution_date=dt.date(2026, 11, 18))
    ws.sync()
    assert re.search(r'2026-11-18 \* "Demo Counterpart".*\n  ponto_id: "' + tx, ws.output_text())
    ws.sim.reset_log()
    ws.sync()
    assert not [p for _m, p, _s in ws.sim.request_log if "financial-institutions" in p]


def test_an_item_served_twice_is_written_once(ws: Workspace) -> None:
    class Repeating(type(ws.client())):  # type: ignore[misc]
        def transaction_pages(self, account_id: str):  # type: ignore[no-untyped-def]
            pages = list(super().transaction_pages(account_id))
            yield from pages
            if pages and pages[0]:
                yield [pages[0][0]]  # Ponto's order shifted: the newest item again

    base = ws.client()
    client = Repeating(
        ws.sim.client_id, ws.sim.client_secret, base_url=ws.sim.url, sleep=lambda _s: None
    )
    base.close()
    sync_module.run_sync(ws.config, client, ledger=ws.ledger, output=ws.output)
    counts = ids_in(ws.output_text())
    assert set(counts) == all_sim_ids(ws.sim) and max(counts.values()) == 1


def test_an_edit_saved_during_the_append_is_kept(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:

    ws.sync()
    # Dated after the balance assertions: a plain append (copied in chunks).
    day = TODAY + dt.timedelta(days=1)
    ws.sim.add_transaction(ws.sim.account_ids[0], "-3.00", execution_date=day)
    real_copy = shutil.copyfileobj
    edits: list[int] = []

    def copy_then_user_saves(src, dst, length=0):  # type: ignore[no-untyped-def]
        real_copy(src, dst, length)
        if not edits:  # the user saves the file in their editor during our copy
            edits.append(1)
            with ws.output.open("a", encoding="utf-8") as handle:
                handle.write("; recategorised by hand\n")

    monkeypatch.setattr(shutil, "copyfileobj", copy_then_user_saves)  # as fileutil calls it
    ws.sync()
    text = ws.output_text()
    assert "; recategorised by hand" in text
    assert ids_in(text) and max(ids_in(text).values()) == 1
    assert len(ids_in(text)) == 121


def test_a_torn_ids_log_line_is_not_glued_to_the_next_id(ws: Workspace) -> None:
    state = SyncState.load(ws.output)
    state.ids_path.parent.mkdir(parents=True, exist_ok=True)
    state.ids_path.write_text("complete-id\ntorn-fragm", encoding="utf-8")
    state.log_written(["first-new", "second-new"])
    lines = state.ids_path.read_text(encoding="utf-8").split("\n")
    # The fragment is cut off (its batch is still pending: recover() logs it again).
    assert lines == ["complete-id", "first-new", "second-new", ""]
