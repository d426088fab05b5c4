"""Consent and freshness as Ponto reports them, the bank's own errors, full refreshes.

Over real HTTP against the simulator: the expected consent expiry is only an
expectation (Ponto keeps serving data), a revoked consent is what Ponto
reports in ``meta.latestSynchronization``, stale data is a last refresh more
than 24 hours ago, and a 500 carrying ``meta.financialInstitutionResponse`` is
the bank's error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shlex
import sys
from typing import TYPE_CHECKING, Any

import pytest

from beancount_ponto import errors
from beancount_ponto.cli import main as cli
from beancount_ponto.config import load_config, save_config
from beancount_ponto.importer import PontoImporter
from beancount_ponto.runner import Runner
from beancount_ponto.state import SyncState
from beancount_ponto.status import link_statuses
from beancount_ponto.timeutil import now_utc
from tests.conftest import Workspace, bean_check
from tests.test_cli import Bean, Run, assert_no_secret
from tests.test_fava_extension import Fava, consent_state, make_fava, row_html

if TYPE_CHECKING:
    from pathlib import Path

    from beancount_ponto.ponto.client import PontoClient
    from beancount_ponto.simulator import Simulator
    from beancount_ponto.sync import AccountResult, SyncResult


@pytest.fixture
def bean(capsys: pytest.CaptureFixture[str], sim: Simulator) -> Bean:
    """Run ``bean-ponto ARGS...`` in-process (as in test_cli); the secret must never show."""

    def run(*args: str | Path, stdin: str | None = None) -> Run:
        del stdin
        capsys.readouterr()
        code = cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        result = Run(code, out, err)
        assert_no_secret(result, sim)
        return result

    return run


def of(result: SyncResult, ponto_id: str) -> AccountResult:
    return next(a for a in result.accounts if a.ponto_id == ponto_id)


def status_json(bean: Bean, ws: Workspace) -> dict[str, Any]:
    run = bean("--config", ws.root / "ponto.toml", "status", "--json")
    assert run.code in (0, 1), run.err  # 1: some account needs action
    return {a["account"]: a for a in json.loads(run.out)["accounts"]}


# -- the expected expiry ------------------------------------------------------------------


def test_data_is_fetched_after_the_expected_expiry_with_a_warning(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    savings = sim.account_ids[1]
    sim.expire_consent(savings)
    tx = sim.add_transaction(savings, "12.50")
    result = ws.sync()
    assert result.ok, [a.summary() for a in result.accounts]
    assert not result.needs_action
    assert tx in ws.output_text()
    assert bean_check(ws.ledger) == []
    consent = status_json(bean, ws)["Assets:Bank:Savings"]["consent"]
    assert isinstance(consent, dict)
    assert consent["state"] == "expected_passed"
    assert "expected to expire" in str(consent["text"])
    run = bean("--config", ws.root / "ponto.toml", "status")
    assert "Ponto still serves data" in run.out
    assert "reauthorize this account in the Ponto dashboard" in run.out


def test_ponto_refusing_after_the_expected_expiry_is_reported(
    ws: Workspace, sim: Simulator
) -> None:
    savings = sim.account_ids[1]
    sim.set_refuse_after_expiry(True)
    sim.expire_consent(savings)
    result = ws.sync()
    failed = of(result, savings)
    assert failed.error and "Ponto refuses this account" in failed.error
    assert "reauthorize this account in the Ponto dashboard" in failed.error
    assert failed.refusal is not None and failed.refusal.source == "answer"
    assert [of(result, i).new for i in sim.account_ids] == [40, 0, 40]
    state = SyncState.load(ws.output)
    statuses = {s.ponto_id: s for s in link_statuses(ws.config, state, None, now_utc())}
    assert statuses[savings].consent.state == "revoked"


# -- a revoked consent ----------------------------------------------------------------------


def test_revoked_consent_is_fetched_reported_and_the_sync_exits_1(
    bean: Bean, ws: Workspace, sim: Simulator
) -> None:
    checking = sim.account_ids[0]
    sim.revoke_consent(checking)
    run = bean("--config", ws.root / "ponto.toml", "sync")
    assert run.code == 1
    line = next(x for x in run.err.splitlines() if x.startswith("Assets:Bank:Checking"))
    assert line.startswith("Assets:Bank:Checking: 40 new")  # what Ponto still serves
    assert "ACTION NEEDED" in line and "authorizationInvalid" in line
    assert "reauthorize this account in the Ponto dashboard" in line
    assert "Assets:Bank:Savings: 40 new" in run.out
    assert bean_check(ws.ledger) == []

    checking_status = status_json(bean, ws)["Assets:Bank:Checking"]
    consent = checking_status["consent"]
    assert isinstance(consent, dict)
    assert consent["state"] == "revoked"
    assert consent["refusal"]["code"] == "authorizationInvalid"
    assert status_json(bean, ws)["Assets:Bank:Savings"]["consent"]["state"] == "expiring"
    status = bean("--config", ws.root / "ponto.toml", "status")
    assert status.code == 1  # an account needs action
    text = status.out
    assert "consent REVOKED" in text
    # offline (the runner, Fava without Ponto): the state remembers it
    offline = link_statuses(ws.config, SyncState.load(ws.output), None, now_utc())
    assert [s.consent.state for s in offline if s.ponto_id == checking] == ["revoked"]

    sim.reauthorize(checking)
    new = sim.add_transaction(checking, "-7.00")
    again = ws.sync()
    assert again.ok and not again.needs_action
    assert of(again, checking).new == 1 and new in ws.output_text()
    assert SyncState.load(ws.output).accounts[checking].refusal is None
    assert status_json(bean, ws)["Assets:Bank:Checking"]["consent"]["state"] == "ok"


def test_a_refresh_that_fails_on_the_consent_marks_the_account(
    ws: Workspace, sim: Simulator
) -> None:
    savings = sim.account_ids[1]
    sim.revoke_consent(savings)
    result = ws.sync(refresh=True)
    item = of(result, savings)
    assert item.error is None
    assert item.refusal is not None and item.refusal.code == "authorizationInvalid"
    assert "bank refresh failed" in item.summary()
    assert [a.ponto_id for a in result.needs_action] == [savings]


def test_reads_refused_after_a_revocation_clear_once_reauthorized(
    ws: Workspace, sim: Simulator
) -> None:
    dollars = sim.account_ids[2]
    sim.revoke_consent(dollars, refuse_reads=True)
    assert of(ws.sync(), dollars).error
    assert SyncState.load(ws.output).accounts[dollars].refusal is not None
    sim.reauthorize(dollars)
    result = ws.sync()
    assert result.ok and of(result, dollars).new == 40
    assert SyncState.load(ws.output).accounts[dollars].refusal is None


def test_importer_warns_about_a_revoked_consent(
    ws: Workspace, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.revoke_consent(sim.account_ids[1])
    importer = PontoImporter(ws.root / "ponto.toml")
    with caplog.at_level(logging.WARNING, logger="beancount_ponto.importer"):
        entries = importer.extract(str(ws.config.path), existing=[])
    assert len(entries) >= 120  # what Ponto still serves is imported
    warned = [r.getMessage() for r in caplog.records]
    assert any("Assets:Bank:Savings: ACTION NEEDED" in m and "reauthorize" in m for m in warned)


# -- stale data ------------------------------------------------------------------------------


def test_stale_data_is_a_warning_in_status(bean: Bean, ws: Workspace, sim: Simulator) -> None:
    checking = sim.account_ids[0]
    sim.set_synchronized_at(checking, now_utc() - dt.timedelta(hours=30))
    assert ws.sync().ok
    by_account = status_json(bean, ws)
    assert by_account["Assets:Bank:Checking"]["ponto_stale"] is True
    assert by_account["Assets:Bank:Savings"]["ponto_stale"] is False
    text = bean("--config", ws.root / "ponto.toml", "status").out
    assert text.count("WARNING: data is stale") == 1
    assert "last refreshed it from the bank 30 hours ago" in text


# -- the runner ------------------------------------------------------------------------------

NOTIFY_SCRIPT = """\
import sys
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(sys.argv[2] + "\\n")
"""


def test_runner_warns_and_notifies_a_revocation_the_same_day(
    ws: Workspace, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = tmp_path / "notify.py"
    script.write_text(NOTIFY_SCRIPT, encoding="utf-8")
    calls = tmp_path / "calls.txt"
    notify = " ".join(shlex.quote(str(p)) for p in (sys.executable, script, calls))
    save_config(dataclasses.replace(ws.config, notify_command=notify))
    config = load_config(ws.root / "ponto.toml")
    now = now_utc()
    runner = Runner(config, ws.ledger, ws.output, every=1, clock=lambda: now)

    def notified() -> list[str]:
        return calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []

    assert runner.tick().ok
    assert len(notified()) == 1  # the savings consent expires within 30 days
    assert "REVOKED" not in notified()[0]
    sim.revoke_consent(sim.account_ids[0])
    caplog.set_level(logging.INFO, logger="beancount_ponto")
    report = runner.tick()
    assert report.outcome == "ok"  # what Ponto serves was written
    assert len(notified()) == 2, "a new revocation notifies at once"
    assert "Assets:Bank:Checking: consent REVOKED" in notified()[1]
    assert "reauthorize this account in the Ponto dashboard" in notified()[1]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ACTION NEEDED" in r.getMessage() for r in warned)
    assert any("consent REVOKED" in r.getMessage() for r in warned)
    runner.tick()
    assert len(notified()) == 2, "then once a day again"

    sim.set_synchronized_at(sim.account_ids[2], now - dt.timedelta(hours=25))
    runner.tick()
    assert any("Assets:Bank:Dollars: data is stale" in m for m in runner.consent_watch())


# -- the Fava page ---------------------------------------------------------------------------


@pytest.fixture
def fava(ws: Workspace) -> Fava:
    return make_fava(ws, "{'auto_fetch': False}")


def test_fava_page_shows_revoked_expected_and_stale(
    ws: Workspace, sim: Simulator, fava: Fava
) -> None:
    checking, savings, dollars = sim.account_ids
    sim.revoke_consent(checking)
    sim.expire_consent(savings)
    sim.set_synchronized_at(dollars, now_utc() - dt.timedelta(days=2))
    html = fava.page()
    assert consent_state(html, checking) == "revoked"
    assert 'data-testid="reauthorize"' in row_html(html, checking)
    assert "reauthorize this account in the Ponto dashboard" in html
    assert consent_state(html, savings) == "expected_passed"
    assert f'data-testid="attention-{savings}"' in html
    assert f'data-testid="stale-{dollars}"' in html
    assert f'data-testid="stale-{checking}"' not in html
    assert "(stale: over 24 h)" in row_html(html, dollars)
    assert "(stale: over 24 h)" not in row_html(html, savings)


# -- refreshing the balance too ---------------------------------------------------------------


def test_sync_refresh_asks_for_account_details_too(ws: Workspace, sim: Simulator) -> None:
    assert ws.sync(refresh=True).ok
    created = sim.synchronizations_created
    for account in sim.account_ids:
        assert (account, "accountDetails") in created
        assert (account, "accountTransactions") in created
    assert len(created) == 6


@pytest.mark.slow
def test_fava_sync_now_asks_for_account_details_too(sim: Simulator, fava: Fava) -> None:
    assert fava.post("sync").get_json()["data"]["started"] is True
    assert fava.wait_job()["state"] == "done"
    subtypes = {(a, s) for a, s in sim.synchronizations_created}
    assert {(a, "accountDetails") for a in sim.account_ids} <= subtypes


# -- the bank's own error ----------------------------------------------------------------------


def test_bank_error_is_the_banks_and_not_retried(sim: Simulator, client: PontoClient) -> None:
    account = sim.account_ids[0]
    sim.bank_error_next(1, path_contains="/transactions")
    sim.reset_log()
    with pytest.raises(errors.PontoError) as info:
        list(client.transactions(account))
    assert isinstance(info.value, errors.BankError)
    text = str(info.value)
    assert "the bank refused Ponto's request (invalidCredentials" in text
    assert "PSU credentials are not valid" in text
    assert "not your Ponto Client ID or Secret" in text
    assert [s for _m, p, s in sim.request_log if "/transactions" in p] == [500]


def test_bank_error_fails_that_account_only(ws: Workspace, sim: Simulator) -> None:
    savings = sim.account_ids[1]
    sim.bank_error_next(1, path_contains=f"/accounts/{savings}/transactions")
    result = ws.sync()
    assert not result.ok
    failed = of(result, savings)
    assert failed.error and "the bank refused" in failed.error
    assert [of(result, i).new for i in sim.account_ids] == [40, 0, 40]
    again = ws.sync()  # nothing was recorded as written: it all arrives now
    assert again.ok and of(again, savings).new == 40
    assert bean_check(ws.ledger) == []


def test_fava_never_calls_a_bank_error_wrong_credentials(sim: Simulator, fava: Fava) -> None:
    sim.bank_error_next(5, path_contains="/accounts", status=403)
    html = fava.page()
    assert "the bank refused" in html
    assert "refused the credentials" not in html
    assert "refused by Ponto" not in html
