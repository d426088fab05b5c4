"""beangulp importer: ``python import.py extract ponto.toml -e main.beancount``.

Contract:

* The "document" is the bean-ponto configuration file (``ponto.toml``):
  :meth:`PontoImporter.identify` matches that one path, offline and cheaply
  (no parsing, no network), so Fava's Import page can call it on every load.
* A relative ``config_path`` is taken relative to the folder of the script
  that creates the importer (``import.py``), not the current folder: Fava
  runs the import config from wherever Fava was started. Outside a script
  (an interactive session) it is relative to the current folder.
* :meth:`PontoImporter.extract` reads the config, asks Ponto for each linked
  account's transactions and books each through the same pipeline as
  ``bean-ponto sync`` (:mod:`beancount_ponto.pipeline`: the same stop rule,
  rules, learned guesses and placeholders, so both give the same entry),
  returning one Beancount transaction per Ponto transaction, with metadata
  ``ponto_id: "<Ponto transaction id>"`` and the other bank fields (see
  :mod:`beancount_ponto.convert`). No balance assertions and no ``open``
  directives: the output is for review. Learning reads the configured
  ``ledger`` (without one, rules and placeholders only); the extract never
  writes the learning cache, but uses one ``sync`` saved. An account that fails (a consent
  Ponto refuses, ...) is logged as a warning and the others are still returned;
  when every account fails, or the config is invalid,
  :class:`~beancount_ponto.errors.PontoError` is raised with a one-line message.
* A transaction ``bean-ponto sync`` once wrote and the user then deleted
  (listed in the sync's ids log beside the configured output, but absent
  from a non-empty ``existing``) is not offered again: deleted stays deleted.
* A transaction Ponto serves twice (on two pages) is returned once.
* Only what is new is offered: a transaction whose ``ponto_id`` already
  appears in ``existing`` is left out, so Fava's Import page does not make the
  user step through every imported entry. With ``show_duplicates=True`` they
  are returned too, and :meth:`PontoImporter.deduplicate` marks them
  (``__duplicate__`` set to the existing entry; beangulp's CLI prints them
  commented out). Duplicates are decided by ``ponto_id`` only (not beangulp's
  ±2-day amount heuristic).
* :attr:`PontoImporter.name` is unique per configuration file, so several
  importers can live in one ``CONFIG`` (Fava requires unique names).
* Do not run ``archive`` on the folder holding ``ponto.toml``: beangulp would
  move the configuration file like any other document. (In Fava, the
  ``fava_ponto`` extension refuses the Import page's *Move* and *Delete* of it.)
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beangulp.importer import Importer

from beancount_ponto.config import load_config
from beancount_ponto.consent import refusal_of
from beancount_ponto.credentials import client_for
from beancount_ponto.errors import PontoError
from beancount_ponto.pipeline import (
    Booker,
    account_time_zone,
    convert_options,
    new_entries,
    not_shared,
)
from beancount_ponto.state import SyncState
from beancount_ponto.state_schema import AccountState

if TYPE_CHECKING:
    from types import FrameType

    from beancount.core import data

    from beancount_ponto.config import Config

log = logging.getLogger(__name__)

#: What :meth:`PontoImporter.account` answers when the config links nothing.
FALLBACK_ACCOUNT = "Assets:Ponto"


def _written_by_sync(config: Config) -> set[str]:
    """Ids ``bean-ponto sync`` wrote to the configured output (empty when unknown)."""
    if config.ledger is None:
        return set()
    try:
        return set(SyncState.load(config.output_path(config.ledger)).written_ids)
    except PontoError as exc:
        log.warning("bean-ponto: cannot read the sync state (%s); deleted entries may return", exc)
        return set()


def _ponto_id(entry: Any) -> str | None:
    meta = getattr(entry, "meta", None) or {}
    value = meta.get("ponto_id")
    return value if isinstance(value, str) else None


def same_ponto_id(entry1: Any, entry2: Any) -> bool:
    """Beangulp comparator: two entries are duplicates iff they share a ``ponto_id``."""
    pid = _ponto_id(entry1)
    return pid is not None and pid == _ponto_id(entry2)


def _caller_dir() -> Path | None:
    """The folder of the file that called into this module (``import.py``), if any."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    source = frame.f_globals.get("__file__") if frame is not None else None
    return Path(source).resolve().parent if isinstance(source, str) else None


def _resolve(config_path: str | Path) -> Path:
    path = Path(config_path).expanduser()
    if not path.is_absolute():
        base = _caller_dir()
        if base is not None:
            path = base / path
    return path.resolve()


class PontoImporter(Importer):
    """Imports Ponto transactions for the accounts linked in a bean-ponto config file.

    Args:
        config_path: the ``ponto.toml`` file (the document beangulp is given);
            relative to the folder of the calling script (``import.py``).
        name: importer name; default ``ponto:<absolute config path>``.
        show_duplicates: also return transactions ``existing`` already holds
            (for beangulp's CLI, which prints them commented out).
    """

    cmp = staticmethod(same_ponto_id)

    def __init__(
        self, config_path: str | Path, name: str | None = None, *, show_duplicates: bool = False
    ) -> None:
        self.config_path = _resolve(config_path)
        self._name = name or f"ponto:{self.config_path}"
        self.show_duplicates = show_duplicates

    def __repr__(self) -> str:
        return f"PontoImporter({str(self.config_path)!r})"

    @property
    def name(self) -> str:
        """A name unique per configuration file."""
        return self._name

    def identify(self, filepath: str) -> bool:
        """True for the configuration file itself (no network, no parsing)."""
        return Path(filepath).resolve() == self.config_path

    def account(self, filepath: str) -> str:
        """The first linked ledger account (beangulp uses it to sort and archive).

        Never raises: Fava calls it while listing files, where an error would
        hide every other importable file.
        """
        try:
            links = load_config(self.config_path).links
        except PontoError as exc:
            log.warning("%s", exc)
            return FALLBACK_ACCOUNT
        return next(iter(links.values())).account if links else FALLBACK_ACCOUNT

    def extract(self, filepath: str, existing: data.Entries) -> data.Entries:
        """The Ponto transactions ``existing`` does not hold yet.

        With ``show_duplicates``, also the ones it holds, down to the overlap
        below the newest of them.

        Raises:
            PontoError: the config is invalid, nothing is linked, or Ponto failed.
        """
        config = load_config(self.config_path)
        if not config.links:
            raise PontoError(
                f"{self.config_path}: no Ponto account is linked yet; "
                "run `bean-ponto accounts`, then `bean-ponto link REF ACCOUNT`"
            )
        known = {pid for pid in map(_ponto_id, existing or []) if pid}
        # Without an existing ledger (no -e) there is nothing to tell deleted from.
        deleted = _written_by_sync(config) - known if known else set()
        ledger = config.ledger
        booker = Booker(config, ledger, config.output_path(ledger) if ledger else None)
        client = client_for(config)
        entries: list[data.Directive] = []
        failures: list[str] = []
        try:
            accounts = client.accounts_each()
            banks: dict[str, AccountState] = {}  # each bank's zone is asked once
            for link in config.links.values():
                try:
                    account = accounts.get(link.ponto_id)
                    if isinstance(account, PontoError):
                        raise account
                    if account is None:
                        raise PontoError(not_shared(link.ponto_id))
                    refusal = refusal_of(account)
                    if refusal is not None:  # still imported: Ponto serves what it has
                        log.warning(
                            "bean-ponto: %s: ACTION NEEDED: %s", link.account, refusal.describe()
                        )
                    bank = banks.setdefault(account.financial_institution_id or "", AccountState())
                    tz = account_time_zone(client, config, link, account, bank)
                    options = convert_options(config, link, account, tz)
                    found = [
                        item.entry
                        for item in new_entries(
                            client,
                            link,
                            options,
                            booker,
                            is_known=lambda pid: pid in known or pid in deleted,
                            overlap_days=config.overlap_days,
                            book_known=self.show_duplicates,  # beangulp shows them as duplicates
                        )
                        if item.entry is not None and item.tx.id not in deleted
                    ]
                    if not self.show_duplicates:
                        found = [e for e in found if _ponto_id(e) not in known]
                    entries.extend(found)
                except PontoError as exc:
                    failures.append(f"{link.account}: {exc}")
                    log.warning(
                        "bean-ponto: %s: %s (other accounts still imported)", link.account, exc
                    )
        finally:
            client.close()
        if failures and len(failures) == len(config.links):
            raise PontoError("; ".join(failures))
        return entries

    def deduplicate(self, entries: data.Entries, existing: data.Entries) -> None:
        """Mark entries whose ``ponto_id`` is in ``existing`` (``__duplicate__``).

        The mark is the existing entry itself, as beangulp and Fava expect.
        """
        by_id = {pid: e for e in existing or [] if (pid := _ponto_id(e))}
        for entry in entries:
            pid = _ponto_id(entry)
            match = by_id.get(pid) if pid else None
            if match is not None:
                entry.meta["__duplicate__"] = match
