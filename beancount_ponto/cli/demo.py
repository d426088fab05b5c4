"""``bean-ponto demo``: the whole product on the built-in simulator, no bank needed.

The simulator serves a Belgian household's year (its ``household`` data set:
salary, rent, groceries, utilities, savings transfers between the household's
own accounts, pending card payments) and books a new card payment every
``--grow-every`` seconds (default 180), so Fava's *Sync now* brings something.

Creates (or reuses) a demo folder with a main ledger that holds the
household's earlier bookings (the year before the one Ponto serves, booked by
its user to Income:Salary, Expenses:Housing:Rent, ...) and includes
``ponto.beancount``, loads the Fava extension and sets up Fava's Import page,
an ``import.py`` (the beangulp importer), a ``ponto.toml`` that points at a
local Ponto simulator, demo credentials (mode 0600, outside the demo folder,
which Fava's ``import-dirs "."`` serves: ``demo-credentials.json`` beside the
default credentials file),
links the simulator's accounts, syncs, checks the ledger like ``bean-check``,
and then serves Fava with the Ponto page until Ctrl-C (``--no-fava`` stops
after the sync and exits 1 if the sync or the check failed). Files the user
already has in the folder are kept.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import threading
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beancount_ponto.config import (
    Config,
    default_credentials_path,
)
from beancount_ponto.credentials import Credentials
from beancount_ponto.errors import ConfigError
from beancount_ponto.ponto.client import PontoClient
from beancount_ponto.sync import SyncOptions, run_sync
from beancount_ponto.testing import LEDGER_ACCOUNTS, connect

if TYPE_CHECKING:
    import datetime as dt
    from types import FrameType

    from beancount_ponto.simulator import Simulator


MAIN_LEDGER = """\
option "title" "Ponto demo"
option "operating_currency" "EUR"

2026-01-01 custom "fava-extension" "fava_ponto"
2026-01-01 custom "fava-option" "auto-reload" "true"
; Fava's Import page runs import.py, whose importer reads ponto.toml:
2026-01-01 custom "fava-option" "import-config" "import.py"
2026-01-01 custom "fava-option" "import-dirs" "."

{opens}
; Transactions from Ponto are appended to this file by bean-ponto:
include "ponto.beancount"

; The household's earlier year, as its user booked it:
{history}"""

#: The demo simulator's seed (the household's history and ids follow it).
DEMO_SEED = 42
#: Seconds between two new bank transactions while the demo runs.
GROW_EVERY = 180.0


IMPORT_SCRIPT = """\
\"\"\"Import script: `python import.py extract ponto.toml -e main.beancount`.\"\"\"

import beangulp

from beancount_ponto.importer import PontoImporter

# The "document" is the bean-ponto config; relative to this file.
CONFIG = [PontoImporter("ponto.toml")]

if __name__ == "__main__":
    beangulp.Ingest(CONFIG)()
"""

#: Variables that would point the demo at a real Ponto integration.
REAL_PONTO_ENV = ("PONTO_CLIENT_ID", "PONTO_CLIENT_SECRET", "PONTO_API_URL")


def _say(text: str) -> None:
    print(text, flush=True)


def main_ledger(today: dt.date, seed: int = DEMO_SEED) -> str:
    """The demo's main ledger: options, opens and the household's earlier bookings.

    The bookings are those of the ``household`` data set before the year the
    simulator serves (the same ``seed`` and ``today``), each as bean-ponto
    writes it with its other leg on the account its user chose.
    """
    # Imported here so that other commands start fast (the CLI registers `demo`).
    from beancount_ponto.convert import (  # noqa: PLC0415
        ConvertOptions,
        format_entries,
        transaction_to_entry,
    )
    from beancount_ponto.simulator.history import BRUSSELS  # noqa: PLC0415
    from beancount_ponto.simulator.household import earlier_bookings  # noqa: PLC0415

    entries = []
    accounts = {*LEDGER_ACCOUNTS, "Expenses:Uncategorized", "Income:Uncategorized"}
    for item in earlier_bookings(seed, today):
        options = ConvertOptions(account=LEDGER_ACCOUNTS[item.account], time_zone=BRUSSELS)
        entry = transaction_to_entry(item.booked.transaction, options)
        bank, other = entry.postings
        entries.append(entry._replace(postings=[bank, other._replace(account=item.booked.label)]))
        accounts.add(item.booked.label)
    opens = "".join(f"1970-01-01 open {name}\n" for name in sorted(accounts))
    return MAIN_LEDGER.format(opens=opens, history=format_entries(entries))


def prepare(folder: Path, sim: Simulator) -> Config:
    """Write the demo ledger, config, credentials and links for ``sim``.

    ``sim`` serves the ``household`` data set of :data:`DEMO_SEED`; the main
    ledger (written once, kept afterwards) holds its earlier bookings.
    """
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / "main.beancount"
    if not main.exists():
        main.write_text(main_ledger(sim.state.today()), encoding="utf-8")
    script = folder / "import.py"
    if not script.exists():
        script.write_text(IMPORT_SCRIPT, encoding="utf-8")
    return connect(
        main,
        api_url=sim.url,
        credentials=Credentials(sim.client_id, sim.client_secret),
        credentials_file=default_credentials_path().with_name("demo-credentials.json"),
    )


def busy_port(host: str, port: int, option: str) -> ConfigError:
    """The one-line error for a port another program already uses."""
    return ConfigError(
        f"port {port} on {host} is busy (another Fava or demo running?): pass {option} N "
        "to use another port"
    )


def serve_fava(ledger: Path, host: str, port: int) -> None:
    """Serve Fava on ``ledger`` until SIGINT/SIGTERM.

    Raises:
        ConfigError: the port is busy (the message suggests ``--port``).
    """
    # Imported here: only the serving demo needs Fava's web stack.
    from cheroot import wsgi  # noqa: PLC0415
    from fava.application import create_app  # noqa: PLC0415

    app = create_app([str(ledger)])
    server = wsgi.Server((host, port), app)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # Stopping the server from inside the handler deadlocks cheroot; leave
        # its serve loop the way Ctrl-C does.
        raise KeyboardInterrupt

    try:
        server.prepare()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE or "Address already in use" in str(exc):
            raise busy_port(host, port, "--port") from None
        raise
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve()
    except KeyboardInterrupt:
        server.stop()


def cmd_demo(args: argparse.Namespace, _config: Config) -> int:
    """The ``demo`` command."""
    folder = Path(args.dir).expanduser().resolve()
    # Imported here so that other commands start fast (the CLI registers `demo`).
    from beancount import loader  # noqa: PLC0415

    from beancount_ponto.simulator import Simulator  # noqa: PLC0415

    sim = Simulator(seed=DEMO_SEED, port=args.simulator_port, unique_ids=True, dataset="household")
    try:
        sim.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise busy_port("127.0.0.1", args.simulator_port, "--simulator-port") from None
    with sim:
        _say(f"Ponto simulator running at {sim.url} (a demo household, no real bank)")
        config = prepare(folder, sim)
        ledger = config.ledger_path()
        output = config.output_path(ledger)
        with closing(PontoClient(sim.client_id, sim.client_secret, base_url=sim.url)) as client:
            result = run_sync(
                config, client, ledger=ledger, output=output, options=SyncOptions(source="demo")
            )
        for item in result.accounts:
            _say(item.summary())
        entries, errors, _ = loader.load_file(str(ledger))
        _say(f"bean-check {ledger}: {len(errors)} errors, {len(entries)} entries")
        for error in errors:
            _say(f"  {error.message}")
        _say(f"Demo ledger: {ledger} (new entries in {output.name})")
        if args.no_fava:
            return 0 if result.ok and not errors else 1
        slug = "ponto-demo"
        _say(
            f"Fava with the Ponto page: http://{args.host}:{args.port}/{slug}/extension/FavaPonto/"
        )
        _say(f"The bank books a new card payment every {args.grow_every:g} s: Sync now fetches it.")
        _say("Press Ctrl-C to stop.")
        # Fava's Ponto page and Import page read credentials like the CLI does:
        # a real integration's variables would override the demo's own.
        for name in REAL_PONTO_ENV:
            os.environ.pop(name, None)
        stop = threading.Event()
        grower = threading.Thread(
            target=grow, args=(sim, args.grow_every, stop), name="demo-bank", daemon=True
        )
        grower.start()
        try:
            serve_fava(ledger, args.host, args.port)
        finally:
            stop.set()
            grower.join(timeout=5)
    return 0


def grow(sim: Simulator, every: float, stop: threading.Event) -> None:
    """Book one new transaction on ``sim`` every ``every`` seconds until ``stop`` is set."""
    while not stop.wait(every):
        sim.grow_once()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def add_parser(sub: Any) -> None:
    """Register the ``demo`` command."""
    p = sub.add_parser("demo", help="try it all on the built-in Ponto simulator")
    p.add_argument("--dir", default="ponto-demo", help="demo folder (default ./ponto-demo)")
    p.add_argument("--no-fava", action="store_true", help="sync, check and exit")
    p.add_argument("--host", default="127.0.0.1", help="Fava host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="Fava port (default 5000)")
    p.add_argument("--simulator-port", type=int, default=0, help="simulator port (default any)")
    p.add_argument(
        "--grow-every",
        type=_seconds,
        default=GROW_EVERY,
        metavar="SECONDS",
        help=f"the demo bank books a new transaction every SECONDS (default {GROW_EVERY:g})",
    )
    p.set_defaults(func=cmd_demo, needs_config=False)
