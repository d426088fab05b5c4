"""Switchable faults of the Ponto simulator.

Contract: a :class:`FaultQueue` holds faults in the order they were armed. For
each API request (never a ``/_sim/`` admin request) :meth:`FaultQueue.take`
returns the first armed fault whose ``path_contains`` is None or a substring of
the request path (query string included, raw or percent-decoded) and uses up one of its ``count``
shots; a request triggers at most one fault. Not thread-safe on its own: the
simulator state calls it under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The kinds that are queued (the others, e.g. ``expire_tokens``, act at once).
KINDS = ("fail", "rate_limit", "drop", "garbage", "slow", "repeat", "bank_error")


@dataclass(slots=True)
class Fault:
    """One armed fault.

    Attributes:
        kind: one of :data:`KINDS`.
        remaining: requests it still applies to.
        status: HTTP status for ``fail`` and ``bank_error`` (the bank refused
            Ponto: code ``invalidCredentials`` with ``meta.financialInstitutionResponse``).
        retry_after: ``Retry-After`` seconds for ``rate_limit``.
        seconds: delay for ``slow``.
        (``repeat``: a page of a list starts one item early, so the item that
        ended the previous page is served again, as when Ponto's order shifts
        between two page requests.)
        path_contains: only requests whose path contains this substring.
    """

    kind: str
    remaining: int
    status: int = 503
    retry_after: int = 1
    seconds: float = 0.0
    path_contains: str | None = None

    def matches(self, *paths: str) -> bool:
        """True if this fault applies to a request for any of ``paths``."""
        if self.remaining <= 0:
            return False
        return self.path_contains is None or any(self.path_contains in p for p in paths)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``GET /_sim/state``)."""
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "status": self.status,
            "retryAfter": self.retry_after,
            "milliseconds": int(self.seconds * 1000),
            "pathContains": self.path_contains,
        }


class FaultQueue:
    """Faults in arming order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        """Add ``fault`` at the end of the queue.

        Raises:
            ValueError: for an unknown kind, a negative count or a bad status.
        """
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {', '.join(KINDS)}")
        if fault.remaining < 0:
            raise ValueError("count must not be negative")
        if not 400 <= fault.status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), not {fault.status}")
        if fault.retry_after < 0 or fault.seconds < 0:
            raise ValueError("retry_after and seconds must not be negative")
        if fault.remaining:
            self._faults.append(fault)

    def take(self, *paths: str) -> Fault | None:
        """Use one shot of the first fault matching ``paths`` and return it (a copy).

        Args:
            *paths: forms of the request path (raw and percent-decoded).
        """
        for fault in self._faults:
            if fault.matches(*paths):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return Fault(
                    fault.kind,
                    1,
                    fault.status,
                    fault.retry_after,
                    fault.seconds,
                    fault.path_contains,
                )
        return None

    def pending(self) -> list[Fault]:
        """The armed faults (copies), in order."""
        return [
            Fault(f.kind, f.remaining, f.status, f.retry_after, f.seconds, f.path_contains)
            for f in self._faults
        ]

    def clear(self) -> None:
        """Disarm every fault."""
        self._faults.clear()
