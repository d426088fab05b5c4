"""Long waits are never silent: a slow Ponto, a long backfill, a held writer lock."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fava_ponto.jobs import sync_work

from beancount_ponto.ponto import client as client_module
from beancount_ponto.progress import ConsoleProgress
from beancount_ponto.simulator import Simulator
from tests.conftest import TODAY, Workspace, bean_check, make_workspace
from tests.helpers import ids_in_file
from tests.test_cli import BEAN_PONTO, Bean, bean

__all__ = ["bean"]  # the fixture, imported for its name


def test_a_slow_ponto_is_said_at_once(
    bean: Bean, ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "SLOW_NOTICE_SECONDS", 0.05)
    sim.slow_next(1, seconds=2.0, path_contains="/accounts")
    run = bean("--config", ws.root / "ponto.toml", "sync")
    assert run.code == 0, run.err
    assert "Ponto is slow to answer GET /accounts (over 0.05 s; waiting up to 30 s)" in run.err
    assert len(ids_in_file(ws.output)) == 120


def test_a_long_backfill_reports_plain_lines_when_piped(bean: Bean, tmp_path: Path) -> None:
    with Simulator(seed=3, today=TODAY, account_sizes=[1200]) as big:
        ws = make_workspace(tmp_path / "big", big, accounts=1)
        run = bean("--config", ws.root / "ponto.toml", "sync")
        assert run.code == 0, run.err
    lines = run.err.splitlines()
    assert "Assets:Bank:Checking: 500 new so far" in lines
    assert "Assets:Bank:Checking: wrote 1000 of 1200" in lines
    assert not [line for line in lines if "\r" in line or "%|" in line]  # no bar
    assert len(ids_in_file(ws.output)) == 1200
    assert bean_check(ws.ledger) == []


def test_on_a_terminal_the_backfill_is_a_progress_bar() -> None:
    screen = io.StringIO()
    with ConsoleProgress(screen, bars=True) as progress:
        progress("Assets:Bank:Checking: 500 new so far")
        progress("Assets:Bank:Checking: 1000 new so far")
        progress("Assets:Bank:Checking: wrote 500 of 1200")
        progress("Assets:Bank:Checking: wrote 1200 of 1200")
        progress("something else")
    text = screen.getvalue()
    assert "Assets:Bank:Checking reading: 1000 new" in text
    assert "100%" in text and "1200/1200" in text
    assert "something else" in text


HOLDER = """\
import sys
from pathlib import Path
from beancount_ponto.ledger import writer_lock

with writer_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_sync_waiting_for_the_lock_says_so_at_once_and_for_whom(
    ws: Workspace, sim: Simulator, tmp_path: Path
) -> None:
    script = tmp_path / "hold_the_lock.py"
    script.write_text(HOLDER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONTO_", "BEAN_PONTO"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), TZ="Europe/Brussels")
    with subprocess.Popen(
        [sys.executable, str(script), str(ws.output)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "held\n"
        with subprocess.Popen(
            [str(BEAN_PONTO), "--config", str(ws.root / "ponto.toml"), "sync"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as syncing:
            assert syncing.stderr is not None
            first = syncing.stderr.readline()  # blocks until the sync says something
            holder.stdin.close()
            out, rest = syncing.communicate(timeout=120)
        holder.wait(timeout=60)
    assert "40 new" in out
    assert "waiting up to 60s for the ledger's writer lock" in first
    assert f"held by pid {holder.pid} (hold_the_lock.py {ws.output})" in first
    assert syncing.returncode == 0, first + rest
    assert len(ids_in_file(ws.output)) == 120


def test_the_job_log_names_a_valid_include_line(ws: Workspace) -> None:
    ws.ledger.write_text(
        ws.ledger.read_text().replace('include "ponto.beancount"\n', ""), encoding="utf-8"
    )
    messages: list[str] = []
    work = sync_work(
        ws.config,
        ledger=ws.ledger,
        output=ws.output,
        refresh=False,
        customer_ip="127.0.0.1",
        notify=lambda _path: None,
    )
    work(messages.append)
    assert any('add include "ponto.beancount"' in m for m in messages), messages
    assert not any("include '" in m for m in messages)
