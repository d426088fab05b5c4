"""The ``bean-ponto`` command line.

``bean-ponto [--config FILE] [--verbose] COMMAND``; the config file defaults
to ``$BEAN_PONTO_CONFIG``, else ``ponto.toml`` in the current folder. Errors
are printed as one line (``--verbose`` adds detail) and exit with status 1;
``sync`` and ``run --once`` also exit 1 when any account failed, and
``sync`` when Ponto reports an account's bank consent revoked (what Ponto
still serves is written; the line says to reauthorize in Ponto's dashboard).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import traceback
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from beancount_ponto import __version__, pending
from beancount_ponto.cli import demo
from beancount_ponto.cli import run as run_command
from beancount_ponto.cli.accounts import cmd_accounts, cmd_link, cmd_login, cmd_unlink
from beancount_ponto.cli.common import client_with_notices, err, out
from beancount_ponto.config import (
    CONFIG_ENV,
    Config,
    default_config_path,
    load_config,
    save_config,
)
from beancount_ponto.credentials import client_for
from beancount_ponto.errors import ConfigError, CredentialsMissingError, PontoError
from beancount_ponto.linking import currency_warnings
from beancount_ponto.progress import ConsoleProgress
from beancount_ponto.review import count_to_review
from beancount_ponto.state import SyncState
from beancount_ponto.status import link_statuses, stale_warning
from beancount_ponto.sync import SyncOptions, SyncResult, run_sync
from beancount_ponto.timeutil import now_utc, to_iso

if TYPE_CHECKING:
    from collections.abc import Sequence

    from beancount_ponto.status import LinkStatus

log = logging.getLogger("beancount_ponto")


def _paths(args: argparse.Namespace, config: Config) -> tuple[Path, Path]:
    ledger = config.ledger_path(args.ledger)
    return ledger, config.output_path(ledger, args.output)


def print_result(result: SyncResult, ledger: Path) -> None:
    """Per account one line; a warning when the output is not included."""
    for item in result.accounts:
        (err if item.error or item.refusal else out)(item.summary())
    for note in result.notes:
        out(note)
    if not result.included:
        err(include_warning(ledger, result.output))


def include_warning(ledger: Path, output: Path) -> str:
    """The warning for an output file the main ledger does not include."""
    try:
        name = os.path.relpath(output, ledger.parent)
    except ValueError:  # another drive (Windows)
        name = str(output)
    return (
        f"bean-ponto: warning: {ledger.name} does not include {output}: add the line "
        f'include "{name}" to {ledger}, or bean-check and Fava will not see the new entries'
    )


def cmd_sync(args: argparse.Namespace, config: Config) -> int:
    """Fetch new transactions and append them to the ledger.

    When the config has no ledger yet, ``--ledger`` is recorded in it (and
    said so), so that ``status``, ``run``, ``extract`` and a plain ``sync``
    find it afterwards.
    """
    ledger, output = _paths(args, config)
    if config.ledger is None and ledger.is_file():
        config = dataclasses.replace(config, ledger=ledger)
        save_config(config)
        out(f"Recorded ledger = {ledger} in {config.path}; plain `bean-ponto sync` uses it now.")
    with (
        ConsoleProgress(sys.stderr) as progress,
        closing(client_with_notices(config, progress)) as client,
    ):
        options = SyncOptions(
            refresh=args.refresh,
            customer_ip=args.customer_ip,
            source="cli",
            full=args.full,
            progress=progress,
        )
        result = run_sync(config, client, ledger=ledger, output=output, options=options)
    print_result(result, ledger)
    return 0 if result.ok and not result.needs_action else 1


def cmd_extract(args: argparse.Namespace, config: Config) -> int:
    """Print the new entries without writing anything."""
    if not args.existing and config.ledger is None:
        raise ConfigError("no ledger given: pass -e LEDGER or set `ledger` in the config")
    ledger = config.ledger_path(args.existing)
    output = config.output_path(ledger, None)
    options = SyncOptions(dry_run=True, source="extract")
    with closing(client_with_notices(config, err)) as client:
        result = run_sync(config, client, ledger=ledger, output=output, options=options)
        try:  # the consents, as `status` judges them (one more request)
            accounts = {a.id: a for a in client.accounts()}
            statuses = link_statuses(config, SyncState.load(output), accounts, now_utc())
        except PontoError:
            statuses = []  # the run's own errors are reported below
    sys.stdout.write(";; -*- mode: beancount -*-\n")
    if result.entries_text:
        sys.stdout.write("\n" + result.entries_text.rstrip("\n") + "\n")
    for item in result.accounts:
        if item.error or item.refusal:
            err(item.summary())
    return 0 if result.ok and not result.needs_action and not _needs_action(statuses) else 1


#: Consent states that need the user: renew (the expected date passed) or reauthorize.
NEEDS_ACTION = ("expected_passed", "revoked")


def _needs_action(statuses: list[LinkStatus]) -> bool:
    """True when some account needs the user: its consent (see :data:`NEEDS_ACTION`), or failing."""
    return any(s.consent.state in NEEDS_ACTION or s.failing_since for s in statuses)


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    """Consent expiry, freshness and errors of each linked account.

    Needs no ledger: without one the consents still come from Ponto and the
    last sync is unknown. Exit status 1 when some account needs action.
    """
    output: Path | None
    if args.output or config.output:
        output = config.output_path(Path(), args.output)
    elif args.ledger or config.ledger:
        _ledger, output = _paths(args, config)
    else:
        output = None
    accounts = None
    note = None
    try:
        with closing(client_with_notices(config, err)) as client:
            accounts = {a.id: a for a in client.accounts()}
    except CredentialsMissingError as exc:
        note = f"Ponto not reachable ({exc}); showing what the last sync saw"
    except ConfigError:
        raise  # a wrong setting is not an unreachable Ponto
    except PontoError as exc:
        note = f"Ponto not reachable ({exc}); showing what the last sync saw"
    state = SyncState.load(output) if output else SyncState(output=Path(os.devnull))
    now = now_utc()
    statuses = link_statuses(config, state, accounts, now)
    code = 1 if _needs_action(statuses) else 0
    waiting = _to_review(args, config, output)
    if args.json:
        out(
            json.dumps(
                {
                    "live": accounts is not None,
                    "note": note,
                    "accounts": [s.to_json() for s in statuses],
                    "runner": state.runner.to_json() if state.runner.last_run else None,
                    "to_review": waiting,
                },
                indent=2,
            )
        )
        return code
    if note:
        err(note)
    for line in currency_warnings(config, (accounts or {}).values()):
        err(line)
    if output is None:
        out(
            "Last sync unknown: no ledger given (pass --ledger MAIN or set `ledger` in the config)."
        )
    if not statuses:
        out("No Ponto account is linked yet: see `bean-ponto accounts` and `bean-ponto link`.")
    for s in statuses:
        last = to_iso(s.last_success) or ("never" if output else "unknown")
        out(f"{s.account} ({s.reference} {s.currency})")
        out(f"  {s.consent.describe()}")
        out(
            f"  last successful sync: {last}; Ponto refreshed from the bank: "
            f"{to_iso(s.ponto_synchronized_at) or 'unknown'}"
        )
        if s.ponto_stale and s.ponto_synchronized_at:
            out(f"  WARNING: {stale_warning(s.ponto_synchronized_at, now)}")
        if s.failing_since:
            out(f"  FAILING since {to_iso(s.failing_since)}: {s.last_error}")
        if s.balance_note:
            out(f"  {s.balance_note}")
        check = s.deep_check
        out(
            f"  deep check: {to_iso(check.at)} ({check.trigger}): {check.describe()}"
            if check
            else "  deep check: never"
        )
    for line in run_command.status_lines(state):
        out(line)
    if waiting is not None:
        out(
            f"{waiting} {'entry waits' if waiting == 1 else 'entries wait'} for review "
            f"(learned guesses flagged {config.review_flag}, or on {config.counter_account} "
            f"or {config.income_account})"
        )
    return code


def cmd_pending(args: argparse.Namespace, config: Config) -> int:
    """List every linked account's pending transactions (never written as booked)."""
    with closing(client_for(config)) as client:
        lists = pending.collect(config, client, pending.bank_zones(config, client))
    if args.json:
        out(json.dumps([i.to_json() for p in lists for i in p.items], indent=2))
    else:
        for p in lists:
            available = "?" if p.available_balance is None else f"{p.available_balance:,}"
            head = f"{p.account}: available {available} {p.currency}".rstrip()
            out(f"{head}; {len(p.items)} pending" if p.state == "listed" else p.account)
            for i in p.items:
                text = " - ".join(t for t in (i.payee, i.narration) if t)
                out(f"  {i.date}  {i.amount:>12} {i.currency}  {text}")
    failed = [p for p in lists if p.error]
    for p in failed:
        err(f"bean-ponto: {p.account}: {p.error}")
    return 1 if failed else 0


def _to_review(args: argparse.Namespace, config: Config, output: Path | None) -> int | None:
    """How many entries wait for review (a text scan), or None without a readable ledger."""
    ledger = args.ledger or config.ledger
    if not ledger or output is None:
        return None
    try:
        placeholders = frozenset({config.counter_account, config.income_account})
        main = config.ledger_path(ledger)
        return count_to_review(main, placeholders, output, review_flag=config.review_flag)
    except (PontoError, OSError) as exc:
        err(f"cannot count the entries to review ({exc})")
        return None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``bean-ponto``."""
    parser = argparse.ArgumentParser(
        prog="bean-ponto", description="Ponto bank transactions into a Beancount ledger."
    )
    parser.add_argument("--version", action="version", version=f"bean-ponto {__version__}")
    parser.add_argument(
        "--config", help="configuration file (default: $BEAN_PONTO_CONFIG or ./ponto.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("login", help="verify and store the Client ID and Client Secret")
    p.add_argument("--client-id", help="the integration's Client ID")
    p.set_defaults(func=cmd_login, config_optional=True)

    p = sub.add_parser("accounts", help="list the Ponto accounts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_accounts, config_optional=True)

    p = sub.add_parser("link", help="link a Ponto account (id or IBAN) to a ledger account")
    p.add_argument("ref", metavar="REF", help="Ponto account id or IBAN")
    p.add_argument("account", metavar="ACCOUNT", help="ledger account, e.g. Assets:Bank:KBC")
    p.add_argument(
        "--balance",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write balance assertions (default: yes, or as before when linked again)",
    )
    p.add_argument(
        "--value-date",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="date entries by value date (default: no, or as before when linked again)",
    )
    p.add_argument("--time-zone", help="zone for dates (default: the bank's)")
    p.add_argument("--start-date", help="ignore transactions before YYYY-MM-DD")
    p.set_defaults(func=cmd_link, config_optional=True)

    p = sub.add_parser("unlink", help="remove a link")
    p.add_argument("ref", metavar="REF", help="Ponto account id, IBAN or ledger account")
    p.set_defaults(func=cmd_unlink)

    for name, func, text in (
        ("sync", cmd_sync, "fetch new transactions and append them"),
        ("status", cmd_status, "consent expiry and sync health"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--ledger", help="main ledger file (default: from the config)")
        p.add_argument(
            "--output", help="file to append to (default: ponto.beancount beside the ledger)"
        )
        if name == "sync":
            p.add_argument(
                "--refresh",
                action="store_true",
                help="ask Ponto to refresh from the bank first (you are present)",
            )
            p.add_argument(
                "--customer-ip",
                default="127.0.0.1",
                help="your IP address, sent to Ponto with --refresh as proof that you are "
                "present (default 127.0.0.1)",
            )
            p.add_argument(
                "--full",
                action="store_true",
                help="deep check: read every account's whole list and bring in what is "
                "missing (also runs by itself once a day and after a balance mismatch)",
            )
        else:
            p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(func=func)

    p = sub.add_parser("pending", help="list pending (not yet booked) transactions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_pending)

    p = sub.add_parser("extract", help="print new entries to standard output, write nothing")
    p.add_argument("-e", "--existing", help="the ledger to leave out what it already has")
    p.set_defaults(func=cmd_extract)

    run_command.add_parser(sub)
    demo.add_parser(sub)
    return parser


def _silence_stdout() -> None:
    """After a broken pipe (``bean-ponto extract | head``), drop further output quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Errors are one line on standard error (``bean-ponto: error: ...``); with
    ``--verbose`` the traceback follows. Exit status 1 on error, 130 on Ctrl-C.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("urllib3").setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        # `demo` brings its own config: a broken ./ponto.toml must not stop it.
        if getattr(args, "needs_config", True):
            named = bool(args.config or os.environ.get(CONFIG_ENV))
            optional = getattr(args, "config_optional", False)
            config = load_config(args.config, must_exist=named and not optional)
        else:
            config = Config(path=default_config_path())
        return int(args.func(args, config))
    except KeyboardInterrupt:
        err("bean-ponto: interrupted")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except Exception as exc:  # the one place that turns any error into one line
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        if isinstance(exc, PontoError):
            text = str(exc)
        elif isinstance(exc, OSError):
            text = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        else:
            text = f"unexpected {type(exc).__name__}: {exc}"
            if not args.verbose:
                text += " (run with --verbose for the details)"
        err(f"bean-ponto: error: {' '.join(text.split())}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
