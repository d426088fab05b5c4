"""beangulp importer: ``python import.py extract ponto.toml -e main.beancount``.

Contract:

* The "document" is the bean-ponto configuration file (``ponto.toml``):
  :meth:`PontoImporter.identify` matches that one path, offline and cheaply,
  so Fava's Import page can call it on every load.
* :meth:`PontoImporter.extract` reads the config, asks Ponto for each linked
  account's transactions (newest first, with the same overlap rule as
  ``bean-ponto sync``) and returns one Beancount transaction per Ponto
  transaction, with metadata ``ponto_id: "<Ponto transaction id>"`` and the
  other bank fields (see :mod:`beancount_ponto.convert`). No balance
  assertions and no ``open`` directives: the output is for review.
* Duplicates are decided by ``ponto_id`` only (not beangulp's ±2-day amount
  heuristic): an entry whose ``ponto_id`` already appears in ``existing`` gets
  ``__duplicate__`` set to that existing entry.
* :attr:`PontoImporter.name` is unique per configuration file, so several
  importers can live in one ``CONFIG`` (Fava requires unique names).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from beangulp.importer import Importer

from beancount_ponto.config import load_config, local_zone, zone
from beancount_ponto.convert import ConvertOptions, transaction_to_entry
from beancount_ponto.fetch import entry_date, make_client, walk

if TYPE_CHECKING:
    import datetime as dt

    from beancount.core import data

    from beancount_ponto.models import Transaction


def _ponto_id(entry: Any) -> str | None:
    meta = getattr(entry, "meta", None) or {}
    value = meta.get("ponto_id")
    return value if isinstance(value, str) else None


def same_ponto_id(entry1: Any, entry2: Any) -> bool:
    """Beangulp comparator: two entries are duplicates iff they share a ``ponto_id``."""
    pid = _ponto_id(entry1)
    return pid is not None and pid == _ponto_id(entry2)


class PontoImporter(Importer):
    """Imports Ponto transactions for the accounts linked in a bean-ponto config file.

    Args:
        config_path: the ``ponto.toml`` file (the document beangulp is given).
        name: importer name; default ``ponto:<config path>``.
    """

    cmp = staticmethod(same_ponto_id)

    def __init__(self, config_path: str | Path, name: str | None = None) -> None:
        self.config_path = Path(config_path).expanduser().resolve()
        self._name = name or f"ponto:{self.config_path}"

    @property
    def name(self) -> str:
        """A name unique per configuration file."""
        return self._name

    def identify(self, filepath: str) -> bool:
        """True for the configuration file itself (no network, no parsing)."""
        return Path(filepath).resolve() == self.config_path

    def account(self, filepath: str) -> str:
        """The first linked ledger account (beangulp uses it to sort and archive)."""
        links = load_config(self.config_path).links
        return next(iter(links.values())).account if links else "Assets:Ponto"

    def extract(self, filepath: str, existing: data.Entries) -> data.Entries:
        """Every Ponto transaction down to the overlap below what ``existing`` holds."""
        config = load_config(self.config_path)
        client = make_client(config)
        known = {pid for pid in map(_ponto_id, existing or []) if pid}
        accounts = {a.id: a for a in client.accounts()}
        entries: list[data.Directive] = []
        for link in config.links.values():
            account = accounts.get(link.ponto_id)
            name = link.time_zone or config.time_zone
            if not name and account is not None and account.financial_institution_id:
                name = client.financial_institution(account.financial_institution_id).time_zone
            tz = zone(name) if name else local_zone()
            options = ConvertOptions(
                account=link.account,
                time_zone=tz,
                counter_account=config.counter_account,
                use_value_date=link.use_value_date,
                flag=config.flag,
                ponto_account_id=link.ponto_id,
            )

            def date_of(
                tx: Transaction, tz: dt.tzinfo = tz, by_value: bool = link.use_value_date
            ) -> dt.date:
                return entry_date(tx, tz, by_value)

            for tx, _known in walk(
                client,
                link.ponto_id,
                is_known=known.__contains__,
                date_of=date_of,
                overlap_days=config.overlap_days,
                start_date=link.start_date,
            ):
                entries.append(transaction_to_entry(tx, options))
        client.close()
        return entries

    def deduplicate(self, entries: data.Entries, existing: data.Entries) -> None:
        """Mark entries whose ``ponto_id`` is in ``existing`` (``__duplicate__``)."""
        by_id = {pid: e for e in existing or [] if (pid := _ponto_id(e))}
        for entry in entries:
            match = by_id.get(_ponto_id(entry) or "")
            if match is not None:
                entry.meta["__duplicate__"] = match
