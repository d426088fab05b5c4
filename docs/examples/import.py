"""beangulp import script for bean-ponto.

    python import.py extract ponto.toml -e main.beancount

prints the Ponto transactions the ledger does not hold yet (matched by
``ponto_id``; add ``show_duplicates=True`` to also see the known ones
commented out). Fava's Import page uses
the same file through ``custom "fava-option" "import-config" "import.py"``.
"""

import beangulp

from beancount_ponto.importer import PontoImporter

# The "document" is the bean-ponto configuration file; a relative path is
# taken relative to this script, wherever it is run from (Fava included).
CONFIG = [PontoImporter("ponto.toml")]

if __name__ == "__main__":
    beangulp.Ingest(CONFIG)()
