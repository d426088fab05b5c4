"""JSON and timestamp helpers of the Ponto simulator.

Contract:

* :func:`dumps` writes JSON with :class:`~decimal.Decimal` values as exact JSON
  numbers (``-42.5``, ``1520.35``, ``100.0``), never through ``float``; it refuses
  floats and non-finite decimals, so money can never be rounded by accident.
* :func:`loads` parses JSON with numbers as Decimal/int (never float).
* :func:`iso` formats an aware datetime the way Ponto does: UTC, milliseconds, ``Z``.
* :func:`local_midnight` is the bank's local midnight of a date, in UTC: the
  Ponto quirk that a Brussels booking date 2024-03-02 is ``2024-03-01T23:00:00.000Z``.
* :func:`served_date` is a booking date as served under a :data:`DateConvention`:
  ``local_midnight`` (as above) or ``utc_midnight`` (``2024-03-02T00:00:00.000Z``,
  what every replayed real sample shows).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

#: How booking dates are served: the bank's midnight in UTC, or UTC midnight.
DateConvention = Literal["local_midnight", "utc_midnight"]
DATE_CONVENTIONS: tuple[DateConvention, ...] = ("local_midnight", "utc_midnight")


def format_decimal(value: Decimal) -> str:
    """Return ``value`` as a JSON number text, like Ponto's float output but exact.

    Trailing zeros are dropped and integral values keep one decimal (``100.0``).

    Args:
        value: a finite Decimal.

    Raises:
        ValueError: if ``value`` is NaN or infinite.
    """
    if not value.is_finite():
        raise ValueError(f"cannot write a non-finite number to JSON: {value}")
    if value == value.to_integral_value():
        return f"{int(value)}.0"
    # normalize() under the default context would round to 28 digits
    exact = decimal.Context(prec=max(len(value.as_tuple().digits), 1))
    return format(value.normalize(exact), "f")


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(format_decimal(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {key!r}")
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")


def dumps(value: object) -> bytes:
    """Serialize ``value`` (dict/list/str/int/bool/None/Decimal) to UTF-8 JSON.

    Raises:
        TypeError: for floats and other unsupported types.
        ValueError: for non-finite decimals.
    """
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Parse JSON with non-integral numbers as Decimal.

    Raises:
        ValueError: if ``data`` is not valid UTF-8 JSON (``NaN`` included).
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data

    def no_constant(name: str) -> Any:
        raise ValueError(f"invalid JSON number {name}")

    return json.loads(text, parse_float=Decimal, parse_constant=no_constant)


def iso(moment: dt.datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Return midnight of ``day`` in ``zone`` as an aware UTC datetime."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(dt.UTC)


def truncate_ms(moment: dt.datetime) -> dt.datetime:
    """Drop sub-millisecond precision, so stored and served timestamps agree."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def served_date(day: dt.date, zone: ZoneInfo, convention: DateConvention) -> str:
    """``day`` as Ponto serves a booking date under ``convention`` (see the module)."""
    if convention == "utc_midnight":
        return f"{day.isoformat()}T00:00:00.000Z"
    return iso(local_midnight(day, zone))
