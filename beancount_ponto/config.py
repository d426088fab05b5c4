"""Settings and account links (secrets are in :mod:`beancount_ponto.credentials`).

The configuration file is TOML (``ponto.toml``) and holds options and the
links from Ponto accounts to ledger accounts, never secrets::

    ledger = "main.beancount"            # paths are relative to this file
    output = "ponto.beancount"           # default: beside the ledger
    counter_account = "Expenses:Uncategorized"
    income_account = "Income:Uncategorized"   # the placeholder of credits
    review_flag = "!"                    # the flag of a learned guess
    learn = true                         # guess the other leg from the ledger
    transfer_account = "Assets:Transfers"  # transit leg of transfers between links

    [own_accounts]                       # own IBANs not linked: IBAN = ledger account
    "BE71 0961 2345 6769" = "Assets:Bank:Other"

    [accounts.0c7e9d52-...]              # a Ponto account id
    account = "Assets:Bank:Checking"
    reference = "BE68539007547034"       # its IBAN: transfers to it are recognised
    currency = "EUR"
    balance_assertions = true
    use_value_date = false

    [[rules]]                            # see beancount_ponto.rules
    counterpart_iban = "BE23 7326 8862 6491"
    account = "Expenses:Rent"

Secrets live in a separate JSON file with mode 0600 (default
``$XDG_CONFIG_HOME/bean-ponto/credentials.json``); the environment variables
``PONTO_CLIENT_ID`` / ``PONTO_CLIENT_SECRET`` override it and
``PONTO_API_URL`` overrides the API base URL. Files are written atomically.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from beancount_ponto.errors import ConfigError
from beancount_ponto.fileutil import atomic_write_text
from beancount_ponto.ledger_options import account_types, check_account, check_credentials_place
from beancount_ponto.ponto.retry import DEFAULT_BACKOFF_SECONDS, DEFAULT_RETRIES
from beancount_ponto.rules import Rule, parse_rules
from beancount_ponto.timeutil import DEFAULT_ZONE, zone
from beancount_ponto.tomledit import check_keys, merge_document
from beancount_ponto.transfers import DEFAULT_TRANSFER_ACCOUNT, parse_own_accounts

if TYPE_CHECKING:
    from collections.abc import Callable

    from beancount.core.account_types import AccountTypes

DEFAULT_API_URL = "https://api.myponto.com"
CONFIG_ENV = "BEAN_PONTO_CONFIG"
DEFAULT_CONFIG_NAME = "ponto.toml"


def account_zone(
    config: Config, link: AccountLink | None, bank_zone: Callable[[], str | None]
) -> dt.tzinfo:
    """The time zone an account's dates follow.

    The link's zone, else the configuration's, else the bank's (``bank_zone``
    is called only then, as it may ask Ponto), else :data:`DEFAULT_ZONE`
    (``Europe/Brussels``), never the machine's own: every bank Ponto serves
    keeps Central European time, and Ponto's real answers leave the bank's
    ``timeZone`` out. Brussels gives the bank's day under both conventions seen
    for booking dates (``T00:00:00.000Z`` of the day, or the bank's midnight in
    UTC, ``T23:00:00.000Z`` / ``T22:00:00.000Z`` the day before); UTC gives the
    second one a day early. A bank zone Python does not know falls back to
    :data:`DEFAULT_ZONE` too.
    """
    name = (link.time_zone if link else None) or config.time_zone
    if name:
        return zone(name)
    bank = bank_zone()
    if bank:
        try:
            return zone(bank)
        except ConfigError:
            pass
    return zone(DEFAULT_ZONE)


@dataclass(frozen=True)
class AccountLink:
    """How one Ponto account feeds one ledger account."""

    ponto_id: str
    account: str
    reference: str = ""
    currency: str = ""
    balance_assertions: bool = True
    use_value_date: bool = False
    time_zone: str | None = None
    start_date: dt.date | None = None

    def to_toml(self) -> dict[str, Any]:
        """The TOML table for this link (empty optional values left out)."""
        table: dict[str, Any] = {"account": self.account}
        if self.reference:
            table["reference"] = self.reference
        if self.currency:
            table["currency"] = self.currency
        table["balance_assertions"] = self.balance_assertions
        table["use_value_date"] = self.use_value_date
        if self.time_zone:
            table["time_zone"] = self.time_zone
        if self.start_date:
            table["start_date"] = self.start_date
        return table


@dataclass(frozen=True)
class Config:
    """The whole configuration; paths are absolute once loaded."""

    path: Path
    ledger: Path | None = None
    output: Path | None = None
    api_url: str = DEFAULT_API_URL
    credentials_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    counter_account: str = "Expenses:Uncategorized"
    flag: str = "*"
    time_zone: str | None = None
    overlap_days: int = 7
    consent_warning_days: int = 30
    notify_command: str | None = None
    fetch_stale_minutes: int = 60
    #: retries of a failed Ponto request (:class:`~beancount_ponto.ponto.retry.RetryPolicy`)
    retries: int = DEFAULT_RETRIES
    #: seconds before the first retry; each further retry waits twice as long
    retry_backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    links: dict[str, AccountLink] = field(default_factory=dict)
    #: the optional pending file (:mod:`beancount_ponto.pending`); None = off
    pending_file: Path | None = None
    income_account: str = "Income:Uncategorized"
    review_flag: Literal["*", "!"] = "!"
    learn: bool = True
    rules: tuple[Rule, ...] = ()
    rules_toml: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    #: the transit leg of transfers between linked accounts (:mod:`beancount_ponto.transfers`)
    transfer_account: str = DEFAULT_TRANSFER_ACCOUNT
    #: the user's own IBANs that are not linked -> their ledger account, as written
    own_accounts: dict[str, str] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the file are resolved against."""
        return self.path.parent

    def effective_api_url(self) -> str:
        """The API base URL, ``PONTO_API_URL`` first."""
        return _api_url(os.environ.get("PONTO_API_URL") or self.api_url).rstrip("/")

    def ledger_path(self, override: str | os.PathLike[str] | None = None) -> Path:
        """The main ledger: the command-line value, else the configured one."""
        if override:
            return Path(override).expanduser().resolve()
        if self.ledger is None:
            raise ConfigError("no ledger given: pass --ledger MAIN or set `ledger` in the config")
        return self.ledger

    def output_path(self, ledger: Path, override: str | os.PathLike[str] | None = None) -> Path:
        """The file new entries go to; default ``ponto.beancount`` beside the ledger."""
        if override:
            return Path(override).expanduser().resolve()
        return self.output or ledger.parent / "ponto.beancount"

    def credentials_path(self) -> Path:
        """Where the secret is stored (outside the ledger, mode 0600).

        Raises:
            ConfigError: the file lies where Fava could serve it
                (see :func:`check_credentials_place`).
        """
        path = self.credentials_file or default_credentials_path()
        return check_credentials_place(
            path,
            self.ledger,
            explicit=bool(self.credentials_file),
            default=default_credentials_path(),
        )

    def link_for_account(self, account: str) -> AccountLink | None:
        """The link that feeds ledger ``account``, if any."""
        return next((link for link in self.links.values() if link.account == account), None)

    def with_links(self, links: dict[str, AccountLink]) -> Config:
        """A copy with other links."""
        return dataclasses.replace(self, links=dict(links))


def default_credentials_path() -> Path:
    """``$XDG_CONFIG_HOME/bean-ponto/credentials.json`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bean-ponto" / "credentials.json"


def default_config_path() -> Path:
    """``$BEAN_PONTO_CONFIG``, else ``ponto.toml`` in the current folder."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME).expanduser().resolve()


def _path(base: Path, value: object, key: str) -> Path | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"`{key}` must be a path string")
    return (base / Path(value).expanduser()).resolve()


def _typed(raw: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = raw.get(key, default)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"`{key}` must be a {kind.__name__}, not {value!r}")
    return value


def _count(raw: dict[str, Any], key: str, default: int, *, minimum: int) -> int:
    """A whole number option of at least ``minimum`` (a bool is not a number here)."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"`{key}` must be a whole number of at least {minimum}, not {value!r}")
    return value


def _seconds(raw: dict[str, Any], key: str, default: float) -> float:
    """A non-negative number of seconds (a bool is not a number here)."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e6:
        raise ConfigError(f"`{key}` must be a number of seconds of at least 0, not {value!r}")
    return float(value)


def _api_url(value: str) -> str:
    """The API base URL, checked: http(s) with a host."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"`api_url` must be an http(s) URL like {DEFAULT_API_URL}, not {value!r}")
    return value


def _link(ponto_id: str, raw: object, types: AccountTypes) -> AccountLink:
    if not isinstance(raw, dict):
        raise ConfigError(f"[accounts.{ponto_id}] must be a table")
    account = raw.get("account")
    if not isinstance(account, str):
        raise ConfigError(f'[accounts.{ponto_id}] needs `account = "Assets:..."`')
    start = raw.get("start_date")
    if start is not None and (not isinstance(start, dt.date) or isinstance(start, dt.datetime)):
        raise ConfigError(f"[accounts.{ponto_id}] start_date must be a date like 2024-01-01")
    tz_name = _typed(raw, "time_zone", str, None)
    if tz_name:
        zone(tz_name)
    return AccountLink(
        ponto_id=ponto_id,
        account=check_account(
            account,
            types,
            what=f"[accounts.{ponto_id}] account",
            roots=(types.assets, types.liabilities),
        ),
        reference=_typed(raw, "reference", str, ""),
        currency=_typed(raw, "currency", str, ""),
        balance_assertions=_typed(raw, "balance_assertions", bool, True),
        use_value_date=_typed(raw, "use_value_date", bool, False),
        time_zone=tz_name,
        start_date=start,
    )


def _config_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(Config)} - {"path", "links", "rules_toml"} | {
        "accounts"
    }


def _link_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(AccountLink)} - {"ponto_id"}


def load_config(path: str | os.PathLike[str] | None = None, *, must_exist: bool = False) -> Config:
    """Read the configuration file; a missing file gives the defaults.

    Args:
        path: the file; default :func:`default_config_path`.
        must_exist: a missing file is an error (the user named it).

    Raises:
        ConfigError: if the file is missing (with ``must_exist``), not valid
            TOML, has a key bean-ponto does not know (named with the closest
            valid key) or a wrong value.
    """
    cfg_path = Path(path).expanduser().resolve() if path else default_config_path()
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(
                f"config file {cfg_path} does not exist: check --config or $BEAN_PONTO_CONFIG"
            ) from None
        raw = {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read: {exc.strerror}") from None
    base = cfg_path.parent
    check_keys(raw, _config_keys(), str(cfg_path))
    accounts = raw.get("accounts", {})
    if not isinstance(accounts, dict):
        raise ConfigError("[accounts] must be a table of Ponto account ids")
    for pid, table in accounts.items():
        if isinstance(table, dict):
            check_keys(table, _link_keys(), f"{cfg_path} [accounts.{pid}]")
    flag = _typed(raw, "flag", str, "*")
    if flag not in ("*", "!"):
        raise ConfigError('`flag` must be "*" or "!"')
    tz_name = _typed(raw, "time_zone", str, None)
    if tz_name:
        zone(tz_name)
    review_flag = _typed(raw, "review_flag", str, "!")
    if review_flag not in ("*", "!"):
        raise ConfigError('`review_flag` must be "*" or "!"')
    ledger = _path(base, raw.get("ledger"), "ledger")
    types = account_types(ledger)

    def account(key: str, default: str) -> str:
        return check_account(_typed(raw, key, str, default), types, what=key)

    def valid(name: str) -> bool:
        try:
            check_account(name, types, what="")
        except ConfigError:
            return False
        return True

    raw_rules = raw.get("rules")
    rules = parse_rules(raw_rules, is_valid_account=valid)
    links = {pid: _link(pid, table, types) for pid, table in accounts.items()}
    return Config(
        path=cfg_path,
        ledger=ledger,
        output=_path(base, raw.get("output"), "output"),
        api_url=_api_url(_typed(raw, "api_url", str, DEFAULT_API_URL)),
        credentials_file=_path(base, raw.get("credentials_file"), "credentials_file"),
        client_cert=_path(base, raw.get("client_cert"), "client_cert"),
        client_key=_path(base, raw.get("client_key"), "client_key"),
        counter_account=account("counter_account", f"{types.expenses}:Uncategorized"),
        flag=flag,
        time_zone=tz_name,
        overlap_days=_count(raw, "overlap_days", 7, minimum=1),
        consent_warning_days=_count(raw, "consent_warning_days", 30, minimum=0),
        notify_command=_typed(raw, "notify_command", str, None),
        fetch_stale_minutes=_count(raw, "fetch_stale_minutes", 60, minimum=0),
        retries=_count(raw, "retries", DEFAULT_RETRIES, minimum=0),
        retry_backoff_seconds=_seconds(raw, "retry_backoff_seconds", DEFAULT_BACKOFF_SECONDS),
        links=links,
        pending_file=_path(base, raw.get("pending_file"), "pending_file"),
        income_account=account("income_account", f"{types.income}:Uncategorized"),
        review_flag=cast('Literal["*", "!"]', review_flag),
        learn=_typed(raw, "learn", bool, True),
        rules=tuple(rules),
        rules_toml=tuple(raw_rules or ()) if rules else (),
        transfer_account=account("transfer_account", f"{types.assets}:Transfers"),
        own_accounts=parse_own_accounts(
            raw.get("own_accounts"), {link.account for link in links.values()}, valid
        ),
    )


def _relative(config: Config, value: Path | None) -> str | None:
    if value is None:
        return None
    try:
        return os.path.relpath(value, config.base_dir)
    except ValueError:
        return str(value)


def save_config(config: Config) -> None:
    """Write ``config`` back to its file atomically (links, options, no secrets).

    The user's comments, layout and key order are kept (see
    :func:`~beancount_ponto.tomledit.merge_document`); only changed values are
    rewritten.
    """
    doc: dict[str, Any] = {}
    for key in (
        "ledger",
        "output",
        "credentials_file",
        "client_cert",
        "client_key",
        "pending_file",
    ):
        rel = _relative(config, getattr(config, key))
        if rel:
            doc[key] = rel
    try:
        old: str | None = config.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = None
    try:
        present = set(tomllib.loads(old or ""))
    except tomllib.TOMLDecodeError:
        present = set()
    defaults = Config(path=config.path)
    for key in (
        "api_url",
        "counter_account",
        "flag",
        "time_zone",
        "overlap_days",
        "consent_warning_days",
        "notify_command",
        "fetch_stale_minutes",
        "retries",
        "retry_backoff_seconds",
        "income_account",
        "review_flag",
        "learn",
        "transfer_account",
    ):
        value = getattr(config, key)
        # A default the user wrote out stays written out.
        if value is not None and (value != getattr(defaults, key) or key in present):
            doc[key] = value
    text = merge_document(
        old,
        doc,
        {pid: link.to_toml() for pid, link in sorted(config.links.items())},
        # ``[[rules]]`` and ``[own_accounts]`` are the user's: never rewritten, kept as written.
        managed=_config_keys() - {"rules", "own_accounts"},
        link_keys=_link_keys(),
        header="# bean-ponto configuration: options and account links (never secrets)\n",
    )
    atomic_write_text(config.path, text)
