"""`bean-ponto demo` as a newcomer runs it: simulator, sync, Fava with the Ponto page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import bean_check


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_serves_the_page_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONTO_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beancount_ponto.cli",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Press Ctrl-C" in line or not line:
            break
    output = "".join(lines)
    try:
        assert "40 new" in output, output
        url = f"http://127.0.0.1:{port}/ponto-demo/extension/FavaPonto/"
        assert url in output
        page = None
        for _ in range(100):  # the server starts just after printing its address
            try:
                page = requests.get(url, timeout=30)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200
        assert "Ponto" in page.text and "BE" in page.text
        assert bean_check(tmp_path / "demo" / "main.beancount") == []
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0
