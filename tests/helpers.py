"""Small helpers shared by the tests: which ``ponto_id`` is where.

One definition of each, imported by every test file that counts ids, so that
"exactly once" means the same thing everywhere. They read files and the
simulator's own records; none of them talks HTTP.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from beancount import loader

from beancount_ponto.simulator import Simulator
from tests.conftest import Workspace

ID_RE = re.compile(r'ponto_id: "([^"]+)"')
"""A ``ponto_id`` anywhere in a text, also in a comment or a string."""

_ID_LINE_RE = re.compile(r'^\s+ponto_id: "([^"]+)"', re.MULTILINE)


def ids_in(text: str) -> Counter[str]:
    """How often each ``ponto_id`` occurs in ``text`` (comments count too)."""
    return Counter(ID_RE.findall(text))


def ids_in_file(path: Path) -> list[str]:
    """The ``ponto_id`` of each metadata line of the file at ``path``, in file order.

    Only lines that start (after indentation) with ``ponto_id:`` count, so a
    commented-out entry does not.
    """
    text = path.read_text(encoding="utf-8")
    return [
        line.split('"')[1] for line in text.splitlines() if line.strip().startswith("ponto_id:")
    ]


def output_ids(ws: Workspace) -> Counter[str]:
    """How often each ``ponto_id`` appears as metadata in the workspace's output file."""
    return Counter(_ID_LINE_RE.findall(ws.output_text()))


def text_ids(ws: Workspace) -> Counter[str]:
    """How often each ``ponto_id`` occurs in the text of the output and the main ledger."""
    text = ws.output_text() + ws.ledger.read_text(encoding="utf-8")
    return ids_in(text)


def ledger_ids(ws: Workspace) -> Counter[str]:
    """``ponto_id`` of every entry Beancount loads from the main ledger (comments do not count)."""
    entries, _errors, _options = loader.load_file(str(ws.ledger))
    return Counter(str(e.meta["ponto_id"]) for e in entries if "ponto_id" in e.meta)


def booked_ids(sim: Simulator, account: str) -> set[str]:
    """The ids of the booked transactions the simulator holds for the Ponto ``account``."""
    return {t["id"] for t in sim.transactions(account)}


def sim_ids(sim: Simulator, accounts: int = 3) -> set[str]:
    """The ids of the booked transactions of the simulator's first ``accounts`` accounts."""
    return {t["id"] for a in sim.account_ids[:accounts] for t in sim.transactions(a)}


def all_ids(sim: Simulator) -> set[str]:
    """The ids of the booked transactions of every simulator account."""
    return sim_ids(sim, len(sim.account_ids))


def assert_exactly_once(ws: Workspace, sim: Simulator, accounts: int = 3) -> None:
    """The output holds each transaction of the first ``accounts`` accounts once, and no other."""
    counts = output_ids(ws)
    assert set(counts) == sim_ids(sim, accounts)
    assert max(counts.values()) == 1, [i for i, n in counts.items() if n > 1]
