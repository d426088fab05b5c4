"""The state file's records of runs: the scheduled runner's, and the history of syncs.

Contract: as for :mod:`beancount_ponto.state_schema` (strict ``from_json``,
round-tripping ``to_json``). :meth:`RunnerState.ticked` records a tick, its
failure streak in the same :class:`~beancount_ponto.state_schema.Health` as
accounts; :meth:`RunRecord.of` is the one place a run's history line is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from beancount_ponto.jsonread import JsonObject
from beancount_ponto.state_schema import Health
from beancount_ponto.timeutil import to_iso

if TYPE_CHECKING:
    import datetime as dt

    from beancount_ponto.results import AccountResult, RunSource, SyncResult

#: How one tick of the scheduled runner ended.
TickOutcome = Literal["ok", "failed", "skipped", "stopped"]


@dataclass
class RunnerState:
    """What the scheduled runner remembers of its ticks.

    Attributes:
        last_run: when the last tick ran; last_outcome, last_message: how it ended.
        every_seconds: its interval (None: ``--once``); pid: its process.
        health: success and failure of its ticks.
        consent_notified_on: the (local) day of the last consent notification;
        consent_notified_revoked: the revoked accounts it named.
    """

    last_run: dt.datetime | None = None
    last_outcome: TickOutcome | None = None
    last_message: str | None = None
    every_seconds: int | None = None
    pid: int | None = None
    health: Health = field(default_factory=Health)
    consent_notified_on: str | None = None
    consent_notified_revoked: list[str] = field(default_factory=list)

    def ticked(self, at: dt.datetime, outcome: TickOutcome, message: str) -> None:
        """Record one tick; a failure or a success also goes to :attr:`health`."""
        self.last_run, self.last_outcome, self.last_message = at, outcome, message
        if outcome == "failed":
            self.health.failed(at, message)
        elif outcome == "ok":
            self.health.succeeded(at)

    @classmethod
    def from_json(cls, raw: object, where: str = "runner") -> RunnerState:
        """Read what :meth:`to_json` wrote."""
        obj = JsonObject(raw, where)
        outcome = obj.text("last_outcome")
        return cls(
            last_run=obj.instant("last_run"),
            last_outcome=cast("TickOutcome", outcome) if outcome in get_args(TickOutcome) else None,
            last_message=obj.text("last_message"),
            every_seconds=obj.integer("every_seconds"),
            pid=obj.integer("pid"),
            health=Health.read(obj),
            consent_notified_on=obj.text("consent_notified_on"),
            consent_notified_revoked=obj.texts("consent_notified_revoked"),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``status --json`` shows it as ``runner``)."""
        return {
            "last_run": to_iso(self.last_run),
            "last_outcome": self.last_outcome,
            "last_message": self.last_message,
            "every_seconds": self.every_seconds,
            "pid": self.pid,
            **self.health.to_json(),
            "consent_notified_on": self.consent_notified_on,
            "consent_notified_revoked": self.consent_notified_revoked,
        }


@dataclass(frozen=True)
class RunLine:
    """What one run did for one account."""

    account: str
    new: int = 0
    skipped: int = 0
    deleted: int = 0
    error: str | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: object, where: str) -> RunLine:
        """Read what :meth:`to_json` wrote."""
        obj = JsonObject(raw, where)
        return cls(
            account=obj.text("account") or "",
            new=obj.integer("new") or 0,
            skipped=obj.integer("skipped") or 0,
            deleted=obj.integer("deleted") or 0,
            error=obj.text("error"),
            notes=tuple(obj.texts("notes")),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "account": self.account,
            "new": self.new,
            "skipped": self.skipped,
            "deleted": self.deleted,
            "error": self.error,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class RunRecord:
    """One sync run in the history: when, who ran it, whether it worked, per account."""

    at: dt.datetime | None
    source: str
    ok: bool
    accounts: dict[str, RunLine]

    @classmethod
    def of(cls, result: SyncResult, source: RunSource, at: dt.datetime) -> RunRecord:
        """The record of ``result``: the one place a run's history line is made."""
        return cls(
            at=at,
            source=source,
            ok=result.ok,
            accounts={
                a.ponto_id: RunLine(
                    account=a.account,
                    new=a.new,
                    skipped=a.skipped,
                    deleted=a.deleted,
                    error=a.error,
                    notes=(*a.notes, *_action_needed(a)),
                )
                for a in result.accounts
            },
        )

    @classmethod
    def from_json(cls, raw: object, where: str) -> RunRecord:
        """Read what :meth:`to_json` wrote."""
        obj = JsonObject(raw, where)
        return cls(
            at=obj.instant("at"),
            source=obj.text("source") or "?",
            ok=obj.flag("ok"),
            accounts={
                pid: RunLine.from_json(line, f"{where}.accounts.{pid}")
                for pid, line in obj.objects("accounts").items()
            },
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "at": to_iso(self.at),
            "source": self.source,
            "ok": self.ok,
            "accounts": {pid: line.to_json() for pid, line in self.accounts.items()},
        }


def _action_needed(result: AccountResult) -> tuple[str, ...]:
    return (f"ACTION NEEDED: {result.refusal.describe()}",) if result.refusal else ()
