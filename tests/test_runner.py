"""``bean-ponto run``, the scheduled runner, against the simulator over real HTTP.

Long-running runners are real processes (``--every 1s``) stopped with SIGTERM,
or :meth:`Runner.loop` in a thread; ``--once`` is a real process too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from beancount_ponto.cli import main as cli
from beancount_ponto.cli.run import RedactSecrets, format_duration, parse_duration, status_lines
from beancount_ponto.config import load_config, save_config
from beancount_ponto.ledger import writer_lock
from beancount_ponto.runner import Runner
from beancount_ponto.simulator import Simulator
from beancount_ponto.state import SyncState
from beancount_ponto.timeutil import now_utc
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import assert_exactly_once, output_ids, sim_ids

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from beancount_ponto.config import Config
    from beancount_ponto.ponto.client import PontoClient

ROOT = Path(__file__).resolve().parents[1]


# -- helpers -------------------------------------------------------------------


def command(ws: Workspace, *args: str, verbose: bool = False) -> list[str]:
    extra = ["--verbose"] if verbose else []
    return [
        sys.executable,
        "-m",
        "beancount_ponto.cli.main",
        "--config",
        str(ws.root / "ponto.toml"),
        *extra,
        *args,
    ]


def bean_ponto(
    ws: Workspace, *args: str, verbose: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(ws, *args, verbose=verbose),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclasses.dataclass
class Proc:
    """A background ``bean-ponto run`` whose standard error goes to a file."""

    popen: subprocess.Popen[bytes]
    err_path: Path

    @property
    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)


@contextlib.contextmanager
def running(ws: Workspace, *args: str, name: str = "runner") -> Iterator[Proc]:
    """Start ``bean-ponto run ARGS``; kill it at the end if the test did not stop it."""
    err_path = ws.root.parent / f"{name}.stderr"
    with open(err_path, "wb") as err:
        popen = subprocess.Popen(
            command(ws, "run", *args),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    proc = Proc(popen, err_path)
    try:
        yield proc
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def wait_until(what: str, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def has_id(ws: Workspace, ponto_id: str) -> bool:
    return ponto_id in output_ids(ws)


def has_all(ws: Workspace, sim: Simulator, accounts: int = 3) -> Callable[[], bool]:
    return lambda: sim_ids(sim, accounts) <= set(output_ids(ws))


def account_polls(sim: Simulator) -> int:
    """How many times the account list was read since the log was last reset."""
    return sum(1 for m, p, _ in sim.request_log if m == "GET" and p.startswith("/accounts?"))


def runner_record(ws: Workspace) -> dict[str, object]:
    """The runner's record as the state file holds it (its JSON form)."""
    return SyncState.load(ws.output).runner.to_json()


@contextlib.contextmanager
def looping(runner: Runner) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=runner.loop, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        runner.stop()
        thread.join(30)
        runner.close()
    assert not thread.is_alive()


# -- durations and small parts -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("45s", 45), (" 2 min ", 120)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    "text", ["", "0s", "0", "5", "45", "soon", "-5m", "1.5h", "h", "15m later", "1d", "1h30", "1ms"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_run_rejects_a_bad_every_before_doing_anything(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--config", str(ws.root / "ponto.toml"), "run", "--every", "soon"])
    assert exc.value.code == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err
    assert not output_ids(ws)


def test_redact_secrets_masks_the_secret_and_bearer_tokens() -> None:
    record = logging.LogRecord(
        "beancount_ponto.x", logging.INFO, __file__, 1, "sent %s with %s", None, None
    )
    record.args = ("s3cr3t-value", "Authorization: Bearer abcdefgh12345678")
    RedactSecrets(["s3cr3t-value"]).filter(record)
    text = record.getMessage()
    assert "s3cr3t-value" not in text
    assert "abcdefgh12345678" not in text
    assert text == "sent <hidden> with Authorization: Bearer <hidden>"


# -- the loop ------------------------------------------------------------------------


def test_loop_appends_new_transactions_as_they_appear(ws: Workspace, sim: Simulator) -> None:
    runner = Runner(ws.config, ws.ledger, ws.output, every=1)
    with looping(runner):
        wait_until("the first backfill", has_all(ws, sim))
        first = set(output_ids(ws))
        new = {sim.add_transaction(sim.account_ids[0], "-12.50")}
        new.add(sim.add_transaction(sim.account_ids[2], "99.99", execution_date=TODAY))
        wait_until("two new transactions", lambda: new <= set(output_ids(ws)))
        # On the first account: the run that wrote the two above is past it.
        new = {sim.add_transaction(sim.account_ids[0], "1.00")}
        wait_until("one more", lambda: new <= set(output_ids(ws)))
        # A tick already past its account list may catch a new transaction, so
        # the second poll may still be due: wait for it rather than race it.
        wait_until("a second poll", lambda: account_polls(sim) >= 2)
    assert len(first) == 120
    assert_exactly_once(ws, sim)
    assert bean_check(ws.ledger) == []
    # The whole log, never a reset one: a tick already in flight when the log
    # was reset could pick up the new transactions and leave no tick to count.
    # The new transactions were added after the backfill's walk, so a later
    # tick listed the accounts again.
    requests = sim.request_log
    assert account_polls(sim) >= 2
    assert not [r for r in requests if r[0] == "POST" and "synchronizations" in r[1]]
    record = runner_record(ws)
    assert record["last_success"]
    assert "failing_since" not in record
    lines = status_lines(SyncState.load(ws.output))
    assert len(lines) == 1
    assert lines[0].startswith("Scheduled runner (every 1s): last run 20")


def test_the_loop_never_dies_of_unexpected_errors(ws: Workspace, sim: Simulator) -> None:
    from beancount_ponto.credentials import client_for

    attempts: list[int] = []

    def flaky(config: Config) -> PontoClient:
        attempts.append(1)
        if len(attempts) <= 2:
            raise RuntimeError("disk on fire")
        return client_for(config)

    runner = Runner(ws.config, ws.ledger, ws.output, every=1, client_factory=flaky)
    report = runner.tick()
    assert (report.outcome, report.ok) == ("failed", False)
    assert "unexpected RuntimeError: disk on fire" in report.message
    record = runner_record(ws)
    assert record["last_outcome"] == "failed"
    assert record["failing_since"]
    with looping(runner):
        wait_until("a sync after the failures", has_all(ws, sim))
        wait_until("the recovery recorded", lambda: "failing_since" not in runner_record(ws))
    assert len(attempts) == 3
    assert_exactly_once(ws, sim)
    assert runner_record(ws)["last_success"]


def test_a_link_added_while_running_is_picked_up(tmp_path: Path, sim: Simulator) -> None:
    ws = make_workspace(tmp_path / "books", sim, accounts=2)
    runner = Runner(ws.config, ws.ledger, ws.output, every=1)
    with looping(runner):
        wait_until("two accounts", has_all(ws, sim, 2))
        time.sleep(0.01)  # a distinct mtime on coarse file systems
        three = make_workspace(tmp_path / "other", sim, accounts=3).config
        save_config(dataclasses.replace(ws.config, links=three.links))
        wait_until("the third account", has_all(ws, sim, 3))
    assert_exactly_once(ws, sim, 3)


@pytest.mark.slow
def test_runner_survives_faults_between_ticks_and_catches_up(ws: Workspace, sim: Simulator) -> None:
    faults: list[tuple[str, Callable[[], None]]] = [
        ("503", lambda: sim.fail_next(5, 503)),  # beyond the 4 retries: a tick fails
        ("dropped connections", lambda: sim.drop_next(2)),
        ("garbage", lambda: sim.garbage_next(2)),
        ("expired tokens", sim.expire_tokens),
        ("429", lambda: sim.rate_limit_next(2, retry_after=2)),
    ]
    with running(ws, "--every", "1s") as proc:
        wait_until("the first backfill", has_all(ws, sim))
        for index, (name, arm) in enumerate(faults):
            arm()
            new = sim.add_transaction(sim.account_ids[index % 3], f"-{index + 1}.00")
            wait_until(f"recovery from {name}", lambda: not sim.state.faults.pending())
            wait_until(f"the transaction added with {name}", partial(has_id, ws, new))
            assert proc.popen.poll() is None, f"the runner died of {name}:\n{proc.err}"
        assert proc.terminate() == 0, proc.err
    assert "FAILED: Ponto answered 503" in proc.err
    assert "failing since" in proc.err
    assert "SIGTERM received" in proc.err
    assert "Traceback" not in proc.err
    assert_exactly_once(ws, sim)
    assert bean_check(ws.ledger) == []
    assert runner_record(ws)["last_outcome"] in ("ok", "stopped")


# -- --once and status --------------------------------------------------------------------


@pytest.mark.slow
def test_once_exit_status_and_failing_since_in_status(ws: Workspace, sim: Simulator) -> None:
    healthy = bean_ponto(ws, "run", "--once")
    assert healthy.returncode == 0, healthy.stderr
    assert "Assets:Bank:Checking: 40 new" in healthy.stderr
    assert_exactly_once(ws, sim)

    sim.fail_next(100, 503)
    failing = bean_ponto(ws, "run", "--once")
    sim.clear_faults()
    assert failing.returncode == 1
    last = failing.stderr.strip().splitlines()[-1]
    assert re.search(r"failing since \d{4}-\d\d-\d\dT[\d:]+\+00:00: .*Ponto answered 503", last)

    status = bean_ponto(ws, "status")
    assert status.returncode == 1, status.stderr  # failing accounts need action
    assert status.stdout.count("FAILING since") == 4  # three accounts and the runner
    assert "Scheduled runner (with --once):" in status.stdout
    assert "(failed)" in status.stdout

    again = bean_ponto(ws, "run", "--once")
    assert again.returncode == 0, again.stderr
    assert "0 new, 40 already in the ledger" in again.stderr
    status = bean_ponto(ws, "status")
    assert status.returncode == 0, status.stderr
    assert "FAILING" not in status.stdout
    assert "(ok)" in status.stdout
    assert_exactly_once(ws, sim)


# -- stopping and concurrency ---------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_mid_backfill_stops_cleanly_and_the_next_run_completes_once(
    tmp_path: Path,
) -> None:
    with Simulator(seed=11, today=TODAY, account_sizes=[2500, 2500]) as sim:
        ws = make_workspace(tmp_path / "books", sim, accounts=2)
        second = sim.account_ids[1]
        sim.slow_next(10, 0.4, path_contains=f"accounts/{second}/transactions")
        with running(ws, "--every", "1h") as proc:
            wait_until("the first batch", lambda: bool(output_ids(ws)))
            assert proc.terminate() == 0, proc.err
        assert "SIGTERM received: stopping after the current write" in proc.err
        assert "Traceback" not in proc.err
        assert bean_check(ws.ledger) == []
        halfway = output_ids(ws)
        assert 0 < len(halfway) < 5000, "the backfill was not interrupted"
        assert max(halfway.values()) == 1
        sim.clear_faults()
        done = bean_ponto(ws, "run", "--once")
        assert done.returncode == 0, done.stderr
        assert_exactly_once(ws, sim, 2)
        assert bean_check(ws.ledger) == []


@pytest.mark.slow
def test_two_runners_and_a_manual_sync_never_duplicate(tmp_path: Path) -> None:
    with Simulator(seed=5, today=TODAY, account_sizes=[700, 700, 700]) as sim:
        ws = make_workspace(tmp_path / "books", sim)
        with (
            running(ws, "--every", "1s", name="a") as a,
            running(ws, "--every", "1s", name="b") as b,
        ):
            manual = [ws.sync(lock_timeout=60, source="fava")]
            for index in range(4):
                sim.add_transaction(sim.account_ids[index % 3], f"{index + 1}.25")
                time.sleep(0.3)
                manual.append(ws.sync(lock_timeout=60, source="fava"))
                sim.add_transaction(sim.account_ids[(index + 1) % 3], f"-{index + 1}.75")
                time.sleep(0.4)
            wait_until("every transaction", has_all(ws, sim))
            time.sleep(1.5)  # both runners tick again on the complete ledger
            assert a.terminate() == 0, a.err
            assert b.terminate() == 0, b.err
    assert_exactly_once(ws, sim)
    assert bean_check(ws.ledger) == []
    written = sum(r.new for r in manual)
    for proc in (a, b):
        assert "Traceback" not in proc.err
        written += sum(int(n) for n in re.findall(r"runner: Assets:\S+: (\d+) new", proc.err))
        assert "already in the ledger" in proc.err  # this runner did sync
    assert written == len(output_ids(ws)), "a transaction was written twice"


def test_a_busy_ledger_makes_the_run_wait_then_skip_with_a_message(ws: Workspace) -> None:
    runner = Runner(ws.config, ws.ledger, ws.output, every=1, lock_timeout=0.6)
    with writer_lock(ws.output):
        started = time.monotonic()
        report = runner.tick()
        waited = time.monotonic() - started
    assert report.outcome == "skipped"
    assert not report.ok
    assert "another bean-ponto writer" in report.message
    assert 0.5 <= waited < 5
    assert not output_ids(ws)
    assert runner.tick().outcome == "ok"
    assert len(output_ids(ws)) == 120


def test_stop_while_waiting_for_the_lock_is_quick(ws: Workspace) -> None:
    runner = Runner(ws.config, ws.ledger, ws.output, every=1, lock_timeout=60)
    with writer_lock(ws.output):
        threading.Timer(0.3, runner.stop).start()
        started = time.monotonic()
        report = runner.tick()
        assert time.monotonic() - started < 5
    assert report.outcome == "stopped"
    assert report.ok
    assert not output_ids(ws)


# -- consent watch ------------------------------------------------------------------------


NOTIFY_SCRIPT = """\
import os, sys
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(sys.argv[2] + "\\t" + os.environ["BEAN_PONTO_MESSAGE"] + "\\n")
"""


def test_consent_watch_warns_every_run_and_notifies_once_a_day(
    ws: Workspace, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = tmp_path / "notify.py"
    script.write_text(NOTIFY_SCRIPT, encoding="utf-8")
    calls = tmp_path / "calls.txt"
    notify = " ".join(shlex.quote(str(p)) for p in (sys.executable, script, calls))
    save_config(dataclasses.replace(ws.config, notify_command=notify, consent_warning_days=30))
    config = load_config(ws.root / "ponto.toml")
    real_now = now_utc()
    sim.set_consent_expiry(sim.account_ids[0], real_now + dt.timedelta(days=10, hours=1))
    for other in sim.account_ids[1:]:
        sim.set_consent_expiry(other, real_now + dt.timedelta(days=200))
    now = [real_now]

    def make() -> Runner:
        return Runner(config, ws.ledger, ws.output, every=1, clock=lambda: now[0])

    def notified() -> list[str]:
        return calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []

    caplog.set_level(logging.INFO, logger="beancount_ponto")
    runner = make()
    assert runner.tick().ok
    assert len(notified()) == 1
    argument, env = notified()[0].split("\t")
    assert argument == env
    assert "Assets:Bank:Checking: consent expires" in argument
    assert "(10 days left)" in argument
    assert "Savings" not in argument
    assert runner.tick().ok
    make().tick()  # a restart, or the next hourly --once, the same day
    warnings = [r for r in caplog.records if "consent expires" in r.getMessage()]
    assert len(warnings) == 3, "every run warns"
    assert len(notified()) == 1, "notify_command runs once a day"
    now[0] += dt.timedelta(days=1)
    make().tick()
    assert len(notified()) == 2
    assert "(9 days left)" in notified()[1]

    quiet = Runner(dataclasses.replace(config, consent_warning_days=5), ws.ledger, ws.output)
    assert quiet.consent_watch() == []


def test_a_consent_ponto_refuses_stops_that_account_only(
    ws: Workspace, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    runner = Runner(ws.config, ws.ledger, ws.output, every=1)
    assert runner.tick().ok
    checking, savings, dollars = sim.account_ids
    sim.revoke_consent(checking, refuse_reads=True)
    blocked = sim.add_transaction(checking, "-3.00")
    fresh = {sim.add_transaction(savings, "4.00"), sim.add_transaction(dollars, "5.00")}
    caplog.set_level(logging.INFO, logger="beancount_ponto")
    report = runner.tick()
    assert report.outcome == "failed"
    assert report.message.startswith("Assets:Bank:Checking: FAILED: Ponto refuses this account")
    assert "reauthorize this account in the Ponto dashboard" in report.message
    assert "Savings" not in report.message
    ids = output_ids(ws)
    assert fresh <= set(ids)
    assert blocked not in ids
    assert any("consent REVOKED" in r.getMessage() for r in caplog.records)
    assert bean_check(ws.ledger) == []
    record = SyncState.load(ws.output).accounts[checking]
    assert "consent" in str(record.health.last_error)


# -- logs ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_secrets_never_logged_even_verbose(ws: Workspace, sim: Simulator, tmp_path: Path) -> None:
    log_file = tmp_path / "runner.log"
    sim.expire_tokens()
    sim.drop_next(1)
    sim.fail_next(1, 503, path_contains="transactions")
    run = bean_ponto(ws, "run", "--once", "--log-file", str(log_file), verbose=True)
    assert run.returncode == 0, run.stderr
    logged = log_file.read_text(encoding="utf-8")
    for account in ("Checking", "Savings", "Dollars"):
        line = f"beancount_ponto.runner: Assets:Bank:{account}: 40 new"
        assert line in run.stderr
        assert logged.count(line) == 1, "one line per run per account"
    assert " DEBUG " in run.stderr, "--verbose shows detail"
    assert "retry 1" in logged
    for text in (run.stderr, run.stdout, logged):
        assert sim.client_secret not in text
        assert "Bearer" not in text

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PONTO_CLIENT_SECRET": "wrong-secret-1234"}
    bad = subprocess.run(
        command(ws, "run", "--once", "--log-file", str(log_file), verbose=True),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert "refused the Client ID or Client Secret" in bad.stderr
    for text in (bad.stderr, log_file.read_text(encoding="utf-8")):
        assert "wrong-secret-1234" not in text
        assert sim.client_secret not in text
