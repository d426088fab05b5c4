"""beancount-ponto: Ponto bank transactions into a Beancount ledger.

The package is split by concern; the import direction is
``errors`` <- ``models`` <- ``client`` / ``convert`` <- ``ledger`` / ``importer``
<- ``sync`` <- ``cli`` / ``runner`` / the Fava extension. Nothing imports upwards.
"""

from __future__ import annotations

__version__ = "0.1.0"
