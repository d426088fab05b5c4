"""Shared fixtures: a real Ponto simulator over HTTP and a ledger workspace.

No test mocks ``requests``: clients talk HTTP to :class:`Simulator`.
Credentials live in the temporary workspace, never in the user's home.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from beancount import loader

from beancount_ponto.config import Config, load_config
from beancount_ponto.credentials import Credentials
from beancount_ponto.ponto.client import PontoClient
from beancount_ponto.simulator import Simulator
from beancount_ponto.sync import SyncOptions, SyncResult, run_sync
from beancount_ponto.testing import LEDGER_ACCOUNTS, connect

TODAY = dt.date(2026, 11, 20)


def bean_check(ledger: Path) -> list[str]:
    """The messages ``bean-check`` would print for ``ledger`` (empty when valid)."""
    _entries, errors, _options = loader.load_file(str(ledger))
    return [str(e.message) for e in errors]


def no_sleep(_seconds: float) -> None:
    """A sleep that does not wait, for retry tests."""


@pytest.fixture(autouse=True)
def _isolate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real config folder and environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("PONTO_CLIENT_ID", "PONTO_CLIENT_SECRET", "PONTO_API_URL", "BEAN_PONTO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TZ", "Europe/Brussels")


def align_consents(sim: Simulator) -> None:
    """Move the simulator's clock to the real time, as bean-ponto judges time.

    The simulator dates its data (and its clock) to a fixed ``TODAY``, while
    bean-ponto compares consent expiry and Ponto's last refresh with the real
    time: without this, the savings account ("expires in 20 days") would turn
    expired 20 days after ``TODAY``, every account would look stale a day after
    it, and the suite would depend on the day it runs. Consent expiries and
    refresh times move with the clock; booking dates stay. Idempotent.
    """
    if getattr(sim, "_consents_aligned", False):
        return
    sim.shift_clock(dt.datetime.now(dt.UTC) - sim.state.now())
    sim._consents_aligned = True  # type: ignore[attr-defined]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A running simulator with deterministic data dated up to ``TODAY``."""
    with Simulator(seed=7, today=TODAY, transactions_per_account=40) as simulator:
        align_consents(simulator)
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[PontoClient]:
    """A client for ``sim`` whose retries do not sleep."""
    c = PontoClient(sim.client_id, sim.client_secret, base_url=sim.url, sleep=no_sleep, timeout=5)
    yield c
    c.close()


MAIN_LEDGER = """\
option "title" "Test"
option "operating_currency" "EUR"

2000-01-01 open Assets:Bank:Checking
2000-01-01 open Assets:Bank:Savings
2000-01-01 open Assets:Bank:Dollars

include "ponto.beancount"
"""


@dataclasses.dataclass
class Workspace:
    """A ledger folder linked to the simulator."""

    root: Path
    sim: Simulator
    config: Config

    @property
    def ledger(self) -> Path:
        return self.root / "main.beancount"

    @property
    def output(self) -> Path:
        return self.root / "ponto.beancount"

    def client(self) -> PontoClient:
        return PontoClient(
            self.sim.client_id,
            self.sim.client_secret,
            base_url=self.sim.url,
            sleep=no_sleep,
            timeout=5,
        )

    def sync(self, **options: object) -> SyncResult:
        return run_sync(
            self.config,
            self.client(),
            ledger=self.ledger,
            output=self.output,
            options=SyncOptions(**options),  # type: ignore[arg-type]
        )

    def output_text(self) -> str:
        return self.output.read_text(encoding="utf-8") if self.output.exists() else ""


#: ponto.toml keys for the processes tests start: the default retries, a 10 ms backoff.
FAST_RETRIES = "retries = 4\nretry_backoff_seconds = 0.01\n"


def make_workspace(root: Path, sim: Simulator, accounts: int = 3) -> Workspace:
    """Write a main ledger, a config linking ``accounts`` simulator accounts, credentials."""
    align_consents(sim)
    root.mkdir(parents=True, exist_ok=True)
    (root / "main.beancount").write_text(MAIN_LEDGER, encoding="utf-8")
    connect(
        root / "main.beancount",
        api_url=sim.url,
        credentials=Credentials(sim.client_id, sim.client_secret),
        credentials_file=root.parent / f"{root.name}-secrets" / "credentials.json",
        account_names=LEDGER_ACCOUNTS[:accounts],
    )
    # Retries as by default, but their backoff shortened: no test waits out real seconds.
    toml = root / "ponto.toml"
    toml.write_text(FAST_RETRIES + toml.read_text(encoding="utf-8"), encoding="utf-8")
    return Workspace(root, sim, load_config(toml))


@pytest.fixture
def ws(tmp_path: Path, sim: Simulator) -> Workspace:
    """A workspace with all three simulator accounts linked."""
    return make_workspace(tmp_path / "books", sim)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--update-golden``: rewrite the golden files instead of comparing."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.beancount from the current output instead of comparing",
    )
