"""Progress of a long sync for a person at the command line.

Contract: :class:`ConsoleProgress` is a ``SyncOptions.progress`` callback.
The sync reports ``"<account>: <n> new so far"`` while it reads a long
history and ``"<account>: wrote <n> of <total>"`` while it writes one; on a
terminal these drive a tqdm bar per account (a counter while reading, a bar
with the total while writing) and any other message is printed above the
bars. When the stream is not a terminal (piped, a log, a test) every message
is one plain line. :meth:`ConsoleProgress.close` ends the bars.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TextIO

from tqdm import tqdm

if TYPE_CHECKING:
    from types import TracebackType

_READING_RE = re.compile(r"^(?P<account>\S+): (?P<n>\d+) new so far$")
_WRITING_RE = re.compile(r"^(?P<account>\S+): wrote (?P<n>\d+) of (?P<total>\d+)$")


class ConsoleProgress:
    """Bars on a terminal, plain lines elsewhere.

    Args:
        stream: where to report (standard error).
        bars: draw bars; default: when ``stream`` is a terminal.
    """

    def __init__(self, stream: TextIO, *, bars: bool | None = None) -> None:
        self.stream = stream
        self.bars = stream.isatty() if bars is None else bars
        self._bar: tqdm[Any] | None = None
        self._key: tuple[str, str] | None = None

    def __call__(self, message: str) -> None:
        """Report one progress message."""
        if not self.bars:
            print(message, file=self.stream, flush=True)
            return
        reading, writing = _READING_RE.match(message), _WRITING_RE.match(message)
        match = writing or reading
        if match is None:
            tqdm.write(message, file=self.stream)
            return
        phase = "writing" if writing else "reading"
        key = (match["account"], phase)
        if self._key != key:
            self.close()
            total = int(match["total"]) if writing else None
            self._bar = tqdm(
                total=total,
                desc=f"{match['account']} {phase}",
                unit=" entries" if writing else " new",
                file=self.stream,
                leave=True,
            )
            self._key = key
        assert self._bar is not None
        self._bar.update(int(match["n"]) - self._bar.n)

    def close(self) -> None:
        """End the current bar, if any."""
        if self._bar is not None:
            self._bar.close()
        self._bar, self._key = None, None

    def __enter__(self) -> ConsoleProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
