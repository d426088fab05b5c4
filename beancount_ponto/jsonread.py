"""Typed reads of a JSON object, each naming the field it found wrong.

Contract: :class:`JsonObject` wraps one parsed JSON object and a dotted
``where`` (``accounts.<id>``); each getter returns the value or None when it is
absent or null, and raises :class:`SchemaError` naming ``where.key`` and what
was expected for any other type. Used by the state file's schema
(:mod:`beancount_ponto.state_schema`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from beancount_ponto.timeutil import from_iso

if TYPE_CHECKING:
    import datetime as dt

_T = TypeVar("_T")


class SchemaError(ValueError):
    """A value of the wrong type in the state file; ``field`` names where."""

    def __init__(self, field_name: str, expected: str) -> None:
        super().__init__(f"{field_name} is not {expected}")
        self.field = field_name


class JsonObject:
    """Typed reads of one JSON object, naming ``where`` in errors."""

    def __init__(self, raw: object, where: str) -> None:
        if not isinstance(raw, dict):
            raise SchemaError(where, "an object")
        self.raw: dict[str, Any] = raw
        self.where = where

    def _get(self, key: str, kind: type[_T] | tuple[type, ...], expected: str) -> _T | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SchemaError(f"{self.where}.{key}", expected)
        return cast("_T", value)

    def text(self, key: str) -> str | None:
        """A text value."""
        return self._get(key, str, "text")

    def integer(self, key: str) -> int | None:
        """A whole number (a bool is not one)."""
        return self._get(key, int, "a whole number")

    def flag(self, key: str) -> bool:
        """A boolean; absent is False."""
        return bool(self._get(key, bool, "true or false"))

    def instant(self, key: str) -> dt.datetime | None:
        """An aware time from ISO 8601 text."""
        value = self.text(key)
        if value is None:
            return None
        parsed = from_iso(value)
        if parsed is None:
            raise SchemaError(f"{self.where}.{key}", "an ISO 8601 time")
        return parsed

    def texts(self, key: str) -> list[str]:
        """A list of text; absent is empty."""
        value = self._get(key, list, "a list")
        if value is None:
            return []
        if not all(isinstance(v, str) for v in value):
            raise SchemaError(f"{self.where}.{key}", "a list of text")
        return list(value)

    def objects(self, key: str) -> dict[str, Any]:
        """An object (a copy); absent is empty."""
        return dict(self._get(key, dict, "an object") or {})
