"""Soak test of ``bean-ponto run``: minutes of 1-second ticks under random faults.

Starts a standalone simulator (``python -m beancount_ponto.simulator --port 0``)
and ``bean-ponto run --every 1s`` as real processes on 127.0.0.1, then for
``--minutes`` (default 3) drives the simulator through its ``/_sim/`` admin
endpoints with a seeded random mix of new transactions (dated today or up to 5
days back, within the overlap rule) and faults (5xx, 429, dropped connections,
garbage, slow answers, expired tokens), plus now and then a concurrent
``bean-ponto sync`` (as Fava's "Sync now" would). Every few seconds it samples
the runner's resident memory from ``/proc/<pid>/status``.

At the end it clears the faults, waits for the runner to catch up, stops it
with SIGTERM and checks: exit status 0, every simulator transaction (read
through the API) exactly once in the ledger, and ``bean-check`` clean. It
prints the counts and the memory figures (first / last / peak; target: no
growth) and exits 1 if a check failed.

Usage: python benchmarks/soak_runner.py [--minutes 3] [--seed 1] [--keep DIR]
       [--add-rate 0.5] [--fault-rate 0.2]   (per step of 0.2-1.2 s)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from beancount import loader

from beancount_ponto.credentials import Credentials
from beancount_ponto.ponto.client import PontoClient
from beancount_ponto.testing import connect

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
LEDGER_ACCOUNTS = ("Assets:Bank:Checking", "Assets:Bank:Savings", "Assets:Bank:Dollars")
MAIN_LEDGER = """\
option "title" "Soak"
option "operating_currency" "EUR"

2000-01-01 open Assets:Bank:Checking
2000-01-01 open Assets:Bank:Savings
2000-01-01 open Assets:Bank:Dollars

include "ponto.beancount"
"""
FAULT_KINDS = ("fail", "fail", "rate_limit", "drop", "garbage", "slow", "expire_tokens")


@dataclasses.dataclass
class Sim:
    """The standalone simulator process and its admin API."""

    proc: subprocess.Popen[str]
    url: str

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            answer = requests.get(f"{self.url}/_sim/{path}", timeout=10)
        else:
            answer = requests.post(f"{self.url}/_sim/{path}", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()


def start_simulator(seed: int, transactions: int) -> Sim:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "beancount_ponto.simulator", "--host", "127.0.0.1"),
            *("--port", "0", "--seed", str(seed), "--transactions", str(transactions)),
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return Sim(proc, match.group(1))


def make_workspace(root: Path, url: str) -> Path:
    """A ledger folder linked to the simulator's three accounts; returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "main.beancount").write_text(MAIN_LEDGER, encoding="utf-8")
    connect(
        root / "main.beancount",
        api_url=url,
        credentials=Credentials("demo-client-id", "demo-client-secret"),
        credentials_file=root.parent / f"{root.name}-secrets" / "credentials.json",
    )
    return root / "ponto.toml"


def rss_kib(pid: int) -> int | None:
    """Resident memory of ``pid`` in KiB (``VmRSS``), None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def random_fault(rng: random.Random, account_ids: list[str]) -> dict[str, Any]:
    kind = rng.choice(FAULT_KINDS)
    body: dict[str, Any] = {"kind": kind, "count": rng.randint(1, 4)}
    if kind == "fail":
        body["status"] = rng.choice((500, 502, 503, 504))
    elif kind == "rate_limit":
        body["retry_after"] = rng.randint(1, 3)
    elif kind == "slow":
        body["seconds"] = round(rng.uniform(0.2, 2.5), 2)
    if kind != "expire_tokens" and rng.random() < 0.5:
        body["path_contains"] = f"accounts/{rng.choice(account_ids)}/transactions"
    return body


def random_transaction(rng: random.Random, account_ids: list[str], today: str) -> dict[str, Any]:
    back = rng.choice((0, 0, 0, 1, 3, 5))  # late deliveries stay within the 7-day overlap
    day = dt.date.fromisoformat(today) - dt.timedelta(days=back)
    cents = rng.randint(-250_00, 150_00) or 1
    return {
        "account": rng.choice(account_ids),
        "amount": f"{cents / 100:.2f}",
        "executionDate": day.isoformat(),
        "counterpartName": f"Soak {rng.randint(1, 999)}",
        "remittanceInformation": "soak test",
    }


def ledger_ids(output: Path) -> Counter[str]:
    text = output.read_text(encoding="utf-8") if output.exists() else ""
    return Counter(re.findall(r'^\s+ponto_id: "([^"]+)"', text, re.MULTILINE))


def sim_transaction_ids(url: str, account_ids: list[str]) -> set[str]:
    client = PontoClient("demo-client-id", "demo-client-secret", base_url=url)
    try:
        return {tx.id for a in account_ids for tx in client.transactions(a)}
    finally:
        client.close()


def wait_for(predicate: Any, timeout: float) -> float | None:
    """Seconds until ``predicate()`` held, None on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="soak duration (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random events")
    parser.add_argument("--transactions", type=int, default=200, help="history per account")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--add-rate", type=float, default=0.5, help="share of steps that add transactions"
    )
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share that arm a fault")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bean-ponto-soak-"))
    sim = start_simulator(args.seed, args.transactions)
    try:
        return soak(args, rng, root, sim)
    finally:
        sim.proc.send_signal(signal.SIGTERM)
        sim.proc.wait(10)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def soak(args: argparse.Namespace, rng: random.Random, root: Path, sim: Sim) -> int:
    """Run the soak; print the figures; return the exit status."""
    books = root / "books"
    config_path = make_workspace(books, sim.url)
    output = books / "ponto.beancount"
    state = sim.admin("state")
    account_ids = [a["id"] for a in state["accounts"]]
    cli = [sys.executable, "-m", "beancount_ponto.cli.main", "--config", str(config_path)]
    log_path = root / "runner.log"
    with open(root / "runner.stderr", "wb") as err:
        runner = subprocess.Popen(
            [*cli, "run", "--every", "1s", "--log-file", str(log_path)],
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    print(f"soak: {args.minutes:g} min, seed {args.seed}, runner pid {runner.pid}, {root}")
    started = time.monotonic()
    samples: list[tuple[float, int]] = []
    faults: Counter[str] = Counter()
    added = 0
    manual: list[subprocess.Popen[bytes]] = []
    manual_codes: list[int] = []
    next_sample, next_manual = 5.0, rng.uniform(20, 40)
    problems: list[str] = []
    try:
        while time.monotonic() - started < args.minutes * 60:
            now = time.monotonic() - started
            if runner.poll() is not None:
                problems.append(f"the runner died with status {runner.returncode}")
                break
            if now >= next_sample:
                rss = rss_kib(runner.pid)
                if rss is not None:
                    samples.append((now, rss))
                next_sample += 5.0
            roll = rng.random()
            if roll < args.add_rate:
                for _ in range(rng.randint(1, 3)):
                    sim.admin("transactions", random_transaction(rng, account_ids, state["today"]))
                    added += 1
            elif roll < args.add_rate + args.fault_rate:
                body = random_fault(rng, account_ids)
                sim.admin("faults", body)
                faults[f"{body['kind']}{body.get('status', '')}"] += 1
            manual_codes += [p.returncode for p in manual if p.poll() is not None]
            manual = [p for p in manual if p.returncode is None]
            if now >= next_manual and not manual:
                manual.append(
                    subprocess.Popen(
                        [*cli, "sync"],
                        env=ENV,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                next_manual = now + rng.uniform(20, 40)
            time.sleep(rng.uniform(0.2, 1.2))
        sim.admin("faults", {"kind": "clear"})
        manual_codes += [p.wait(180) for p in manual]
        expected = sim_transaction_ids(sim.url, account_ids)
        catch_up = wait_for(lambda: expected <= set(ledger_ids(output)), 120)
        if catch_up is None:
            problems.append("the runner did not catch up within 120 s after the faults stopped")
        final = rss_kib(runner.pid)
        if final is not None:
            samples.append((time.monotonic() - started, final))
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    if code != 0:
        problems.append(f"the runner exited with status {code} after SIGTERM")
    ids = ledger_ids(output)
    duplicates = sorted(i for i, n in ids.items() if n > 1)
    missing = expected - set(ids)
    unknown = set(ids) - expected
    _entries, errors, _options = loader.load_file(str(books / "main.beancount"))
    log_text = log_path.read_text(encoding="utf-8")
    runs = log_text.count("runner: Assets:Bank:Checking: ") + log_text.count("run failed: ")
    failed_runs = log_text.count("; trying again in ")
    for name, bad in (("duplicated", duplicates), ("missing", missing), ("unknown", unknown)):
        if bad:
            problems.append(f"{len(bad)} {name} ids, e.g. {sorted(bad)[:3]}")
    if errors:
        problems.append(f"bean-check: {len(errors)} errors, first: {errors[0].message}")
    if "Traceback" in log_text:
        problems.append("a traceback in the runner's log")
    if "demo-client-secret" in log_text:
        problems.append("the client secret is in the log")

    print(f"runs logged: {runs} ({failed_runs} failed, retried at the next tick)")
    print(f"transactions added during the soak: {added}")
    print(f"faults armed: {sum(faults.values())} {dict(sorted(faults.items()))}")
    print(f"concurrent `bean-ponto sync` runs: {len(manual_codes)} (exit codes {manual_codes})")
    if catch_up is not None:
        print(f"caught up {catch_up:.1f} s after the faults stopped")
    print(
        f"simulator transactions: {len(expected)}; in the ledger: {sum(ids.values())} "
        f"({len(ids)} distinct); duplicates {len(duplicates)}; missing {len(missing)}; "
        f"bean-check errors {len(errors)}; exit status after SIGTERM {code}"
    )
    if samples:
        mib = [rss / 1024 for _, rss in samples]
        peak_at = max(samples, key=lambda s: s[1])[0]
        print(
            f"runner RSS (MiB): first {mib[0]:.1f} (t={samples[0][0]:.0f}s), "
            f"last {mib[-1]:.1f} (t={samples[-1][0]:.0f}s), "
            f"peak {max(mib):.1f} (t={peak_at:.0f}s), growth {mib[-1] - mib[0]:+.1f}"
        )
        print("RSS every 5 s (MiB): " + " ".join(f"{m:.1f}" for m in mib))
    for problem in problems:
        print(f"FAIL: {problem}")
    print("soak: OK" if not problems else "soak: FAILED")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
