"""beancount-ponto: Ponto bank transactions into a Beancount ledger, exactly once.

The package is layered. Bottom up, a module imports only from its own layer
(never in a cycle) or from the layers below it; ``tests/test_layout.py`` reads
this list and checks the imports against it:

1. **base**: errors, timeutil, fileutil, jsonread, i18n, progress (plain helpers).
2. **sdk**: ponto, simulator (the Ponto API client and its typed answers,
   which know nothing of Beancount or ``ponto.toml``; the simulator, a
   stand-in for Ponto over HTTP, uses only those answers' models).
3. **settings**: tomledit, ledger_options, rules, transfers, config,
   credentials, linking (``ponto.toml``, the secrets, the ledger's options).
4. **books**: ledger, withdraw, state_schema, state_runs, state, convert, walk, admit, learn,
   learn_cache, booking, pipeline, consent, balance, deepcheck, refresh,
   results, review, pending, status (reading and writing the ledger and the
   state; turning Ponto's transactions into entries).
5. **flows**: sync_run, sync_balances, sync, importer (one sync run: its context and
   batches, its balance steps, the run itself; the beangulp importer).
6. **runner**: runner (the scheduled loop).
7. **faces**: cli, testing, fava_ponto (the command line, the setup shared by
   tests and benchmarks, the Fava page in ``fava_extension/fava_ponto``).
"""

from __future__ import annotations

__version__ = "0.1.0"
