"""Clock, ISO 8601 and time-zone helpers shared by every layer above the SDK.

Contract: :func:`now_utc` is the one clock (aware, UTC); :func:`to_iso` and
:func:`from_iso` are the one text form of instants in the state file (a naive
text is read as UTC, anything unparsable as None); :func:`zone` names a zone
or raises :class:`~beancount_ponto.errors.ConfigError`; :data:`DEFAULT_ZONE`
is the bank's zone when nothing names one.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from beancount_ponto.errors import ConfigError

#: The zone of an account's dates when neither the link, the config nor the bank names one.
DEFAULT_ZONE = "Europe/Brussels"


def now_utc() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def to_iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 text of an aware datetime, or None."""
    return value.isoformat(timespec="seconds") if value else None


def from_iso(value: object) -> dt.datetime | None:
    """Parse what :func:`to_iso` wrote; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def zone(name: str) -> dt.tzinfo:
    """Return the time zone called ``name`` (IANA name such as ``Europe/Brussels``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (use a name like Europe/Brussels)") from None


def local_zone() -> dt.tzinfo:
    """The machine's own time zone, with its daylight-saving rules when known."""
    tz_name = os.environ.get("TZ", "").lstrip(":")
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except OSError:
        return dt.datetime.now().astimezone().tzinfo or dt.UTC
