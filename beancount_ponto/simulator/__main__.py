"""Command line: run the Ponto simulator until SIGTERM or Ctrl-C.

Contract: ``python -m beancount_ponto.simulator [--host H] [--port P] [--seed S]
[--client-id ID] [--client-secret SECRET] [--transactions N] [--today YYYY-MM-DD]
[--token-ttl SECONDS] [--grow-every SECONDS] [--dataset default|household]`` prints exactly one line
``Ponto simulator listening on http://HOST:PORT`` (flushed) once it accepts
connections, then serves; with ``--grow-every`` it books one generated
transaction on a random account every that many seconds. ``--help`` shows the
credentials to use and the admin endpoints. Without ``--seed`` the accounts and
their history are the same on every start (seed 42) but ids of everything new
are random, so a restart never reuses an id; with ``--seed`` all is
reproducible. Exits 0 on SIGTERM/SIGINT, 2 on bad arguments or a busy port (one
line suggesting ``--port``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import signal
import sys
import threading
from typing import TYPE_CHECKING

from beancount_ponto.simulator.core import Simulator
from beancount_ponto.simulator.jsonutil import DATE_CONVENTIONS
from beancount_ponto.simulator.state import DATASETS

if TYPE_CHECKING:
    from types import FrameType


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


DEFAULT_SEED = 42
DEFAULT_CLIENT_ID = "demo-client-id"
DEFAULT_CLIENT_SECRET = "demo-client-secret"  # public demo value

EPILOG = f"""\
credentials: Client ID {DEFAULT_CLIENT_ID!r}, Client Secret {DEFAULT_CLIENT_SECRET!r}
(or the --client-id/--client-secret given). Point bean-ponto at it with
PONTO_API_URL=http://HOST:PORT (or api_url in ponto.toml) and
`bean-ponto login --client-id {DEFAULT_CLIENT_ID}`, the secret on standard input.

admin endpoints (JSON, no authentication): GET /_sim/state, GET /_sim/log,
POST /_sim/reset-log, POST /_sim/transactions {{"account", "amount", ...}},
POST /_sim/queue {{"account", "count"}}, POST /_sim/grow, and
POST /_sim/faults {{"kind", "count"?, "status"?, "retry_after"?, "seconds"?,
"path_contains"?, "account"?}} with kind fail, rate_limit, drop, garbage, slow,
expire_tokens, expire_consent or clear.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the simulator command."""
    parser = argparse.ArgumentParser(
        prog="python -m beancount_ponto.simulator",
        description="Run a local Ponto API simulator (real HTTP, demo data, no bank).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"make everything reproducible, new ids too (default: history of seed "
        f"{DEFAULT_SEED}, random ids for what is new, so a restart never reuses one)",
    )
    parser.add_argument(
        "--client-id", default=DEFAULT_CLIENT_ID, help=f"default {DEFAULT_CLIENT_ID!r}"
    )
    parser.add_argument(
        "--client-secret",
        default=DEFAULT_CLIENT_SECRET,
        help=f"default {DEFAULT_CLIENT_SECRET!r}",
    )
    parser.add_argument(
        "--transactions", type=int, default=40, help="transactions generated per account"
    )
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="newest booking date (default: today)",
    )
    parser.add_argument("--token-ttl", type=int, default=1799)
    parser.add_argument("--time-zone", default="Europe/Brussels")
    parser.add_argument(
        "--list-order",
        choices=["date", "created"],
        default="date",
        help="list transactions newest date first, or newest created first",
    )
    parser.add_argument(
        "--legacy-links", action="store_true", help="old-style links.next (?after=<id>)"
    )
    parser.add_argument(
        "--date-convention",
        choices=DATE_CONVENTIONS,
        default="local_midnight",
        help="booking dates as the bank's midnight in UTC, or as UTC midnight",
    )
    parser.add_argument(
        "--no-bank-time-zone",
        action="store_true",
        help="serve the bank without timeZone (as real samples do)",
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="default",
        help="default: the tests' data, hostile texts included; household: a Belgian "
        "household's year (as the demo serves)",
    )
    parser.add_argument(
        "--grow-every",
        type=_positive,
        default=None,
        metavar="SECONDS",
        help="add one generated transaction every SECONDS",
    )
    return parser


def simulator_from_args(args: argparse.Namespace) -> Simulator:
    """The (not yet started) simulator the command line asks for."""
    return Simulator(
        client_id=args.client_id,
        client_secret=args.client_secret,
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        transactions_per_account=args.transactions,
        today=args.today,
        host=args.host,
        port=args.port,
        token_ttl=args.token_ttl,
        time_zone=args.time_zone,
        unique_ids=args.seed is None,
        list_order=args.list_order,
        legacy_links=args.legacy_links,
        date_convention=args.date_convention,
        serve_time_zone=not args.no_bank_time_zone,
        dataset=args.dataset,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGTERM/SIGINT; returns the exit code."""
    args = build_parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sim = simulator_from_args(args)
    try:
        sim.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(
            f"simulator: error: port {args.port} on {args.host} is busy: "
            "pass --port N for another one (or --port 0 for any free port)",
            file=sys.stderr,
        )
        return 2
    try:
        print(f"Ponto simulator listening on {sim.url}", flush=True)
        while not stop.wait(args.grow_every):
            sim.grow_once()
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
