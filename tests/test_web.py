"""The Fava page's framework-free logic: request guard, settings, ledger index, jobs."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from fava_ponto.forms import PageInputError, text_field
from fava_ponto.jobs import JobRunner
from fava_ponto.ledger_index import LedgerIndex
from fava_ponto.page import PageSettings, cross_site_error

from beancount_ponto.errors import TransportError


@pytest.mark.parametrize(
    ("site", "origin", "host", "refused"),
    [
        (None, None, "localhost:5000", False),  # not a browser (curl, tests)
        ("same-origin", "http://localhost:5000", "localhost:5000", False),
        ("none", None, "localhost:5000", False),  # typed in the address bar
        (None, "http://127.0.0.1", "127.0.0.1:80", False),  # default port either way
        ("cross-site", None, "localhost:5000", True),
        ("same-site", None, "localhost:5000", True),  # another port on the same host
        (None, "https://evil.example", "localhost:5000", True),
        (None, "http://localhost:5001", "localhost:5000", True),
        (None, "null", "localhost:5000", True),  # sandboxed frames, file: pages
        (None, "http://localhost:bad", "localhost:5000", True),
    ],
)
def test_cross_site_error(site: str | None, origin: str | None, host: str, refused: bool) -> None:
    problem = cross_site_error(site=site, origin=origin, host=host)
    assert (problem is not None) is refused
    if problem:
        assert "refused" in problem


def test_text_field_never_echoes_the_value() -> None:
    assert text_field({"a": "  x  "}, "a", "Client ID") == "x"
    for body in ({}, {"a": ""}, {"a": 3}, {"a": "x" * 300}, {"a": "bad\nline"}):
        with pytest.raises(PageInputError) as caught:
            text_field(body, "a", "Client Secret")
        assert "Client Secret" in str(caught.value)
        assert "bad" not in str(caught.value)


def test_settings_parse(tmp_path: Path) -> None:
    join = tmp_path.joinpath
    assert PageSettings.parse(None, join) == PageSettings(tmp_path / "ponto.toml")
    assert PageSettings.parse("sub/p.toml", join).config_path == tmp_path / "sub/p.toml"
    full = PageSettings.parse(
        {
            "config": "x.toml",
            "fetch_stale_minutes": 15,
            "consent_warning_days": 10,
            "auto_fetch": False,
            "fava_errors": False,
        },
        join,
    )
    assert full == PageSettings(tmp_path / "x.toml", 15, 10, False, False)
    bad = PageSettings.parse({"fetch_stale_minutes": True, "auto_fetch": "no", "x": 1}, join)
    assert bad.fetch_stale_minutes is None and bad.auto_fetch is True
    assert bad.problem is not None
    assert "fetch_stale_minutes" in bad.problem and "auto_fetch" in bad.problem
    assert "'x'" in bad.problem
    assert PageSettings.parse(42, join).problem


LEDGER = """
option "operating_currency" "EUR"
2024-01-01 open Assets:Bank
2024-01-01 open Assets:Bank:Sub
2024-01-01 open Assets:Old
2024-01-01 open Assets:Dollars USD
2024-01-01 open Liabilities:Card
2024-01-01 open Expenses:Food
2024-02-01 close Assets:Old

2024-01-10 * "Shop" "one"
  ponto_id: "t1"
  Assets:Bank  -10.00 EUR
  Expenses:Food

2024-01-10 * "Shop" "two"
  Assets:Bank:Sub  -1.50 EUR
  Expenses:Food

2024-01-11 * "Payee" "<b>three</b>"
  ponto_id: "t3"
  Assets:Bank  100 EUR
  Liabilities:Card
"""


def test_ledger_index_balances_choices_and_latest() -> None:
    entries, errors, _ = loader.load_string(LEDGER)
    assert errors == []
    index = LedgerIndex.build(entries, ("Assets", "Liabilities"))
    day = dt.date
    assert index.balance("Assets:Bank", "EUR", day(2024, 1, 9)) == 0
    assert index.balance("Assets:Bank", "EUR", day(2024, 1, 10)) == Decimal("-11.50")
    assert index.balance("Assets:Bank:Sub", "EUR", day(2024, 1, 10)) == Decimal("-1.50")
    assert index.balance("Assets:Bank", "EUR", day(2030, 1, 1)) == Decimal("88.50")
    assert index.balance("Assets:Bank", "USD", day(2030, 1, 1)) == 0
    assert index.balance("Liabilities:Card", "EUR", day(2024, 1, 11)) == Decimal("-100")
    assert index.choices("EUR") == ["Assets:Bank", "Assets:Bank:Sub", "Liabilities:Card"]
    assert "Assets:Dollars" in index.choices("USD")
    assert [t.narration for t in index.latest] == ["<b>three</b>", "one"]
    assert index.latest[0].amount == "100.00"


def test_job_runner_runs_one_at_a_time() -> None:
    runner = JobRunner()
    release = threading.Event()

    def slow(progress: Any) -> list[dict[str, Any]]:
        progress("working")
        release.wait(5)
        return [{"account": "Assets:Bank", "new": 3}]

    job, started = runner.start("sync", slow)
    assert started
    again, started_again = runner.start("fetch", slow)
    assert again is job and not started_again
    release.set()
    assert runner.wait(5)
    snap = runner.snapshot()
    assert snap is not None
    assert snap["state"] == "done" and snap["messages"] == ["working"]
    assert snap["summary"] == "3 new transactions"

    def broken(_progress: Any) -> list[dict[str, Any]]:
        raise TransportError("cannot reach Ponto at http://x (ConnectionError)")

    runner.start("sync", broken)
    assert runner.wait(5)
    snap = runner.snapshot()
    assert snap is not None and snap["state"] == "failed"
    assert snap["error"] == "cannot reach Ponto at http://x (ConnectionError)"

    def crash(_progress: Any) -> list[dict[str, Any]]:
        raise RuntimeError("secret detail")

    runner.start("sync", crash)
    assert runner.wait(5)
    snap = runner.snapshot()
    assert snap is not None and "secret detail" not in str(snap)
    assert "internal error (RuntimeError)" in snap["error"]
