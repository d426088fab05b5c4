"""A local, deterministic Ponto API simulator with switchable faults.

Contract: :class:`Simulator` runs a real HTTP server (stdlib, background
thread) speaking the Ponto "custom integration" API as documented in
``ponto-api.md``: OAuth2 client credentials, accounts, transactions and pending
transactions with cursor paging, synchronizations, financial institutions,
JSON:API errors. Data is generated from a seed; faults (errors, 429, dropped
connections, garbage, slowness, expired tokens/consents) are armed per test.
``python -m beancount_ponto.simulator`` runs it standalone; ``/_sim/...``
admin endpoints drive it from another process. Stdlib only.

Example::

    with Simulator(today=datetime.date(2024, 3, 2)) as sim:
        requests.post(f"{sim.url}/oauth2/token", ...)
"""

from __future__ import annotations

from beancount_ponto.simulator.core import Simulator

__all__ = ["Simulator"]
