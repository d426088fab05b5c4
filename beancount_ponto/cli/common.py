"""What every ``bean-ponto`` command shares: its output streams and its client."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from beancount_ponto.credentials import client_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from beancount_ponto.config import (
        Config,
    )
    from beancount_ponto.ponto.client import PontoClient


def out(text: str = "") -> None:
    """Print ``text`` to standard output at once."""
    print(text, flush=True)


def err(text: str) -> None:
    """Print ``text`` (one line) to standard error at once."""
    print(text, file=sys.stderr, flush=True)


def client_with_notices(config: Config, on_wait: Callable[[str], None]) -> PontoClient:
    """A client that tells ``on_wait`` when Ponto is slow or a request is retried."""
    client = client_for(config)
    client.on_wait = on_wait
    return client
