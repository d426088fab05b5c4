"""What bean-ponto reads from the main ledger's options, with a light parse.

Contract: the main file is read as text (no Beancount load: cheap on a large
ledger); options count only in the main file, as in Beancount. A missing or
unreadable ledger gives the defaults.

* :func:`ledger_roots`: the ``name_assets`` / ``name_liabilities`` roots.
* :func:`served_folders`: the documents and Fava import folders, which Fava
  serves through ``/<ledger>/document/?filename=...``.
* :func:`check_credentials_place`: refuses a credentials file Fava could serve.
"""

from __future__ import annotations

import re
from pathlib import Path

from beancount_ponto.errors import ConfigError

_ROOT_OPTION_RE = re.compile(r'^option[ \t]+"name_(assets|liabilities)"[ \t]+"([^"\n]+)"', re.M)
_DOCUMENTS_RE = re.compile(r'^option[ \t]+"documents"[ \t]+"([^"\n]+)"', re.M)
_IMPORT_DIRS_RE = re.compile(
    r'^\d{4}-\d{2}-\d{2}[ \t]+custom[ \t]+"fava-option"[ \t]+"import-dirs"[ \t]+"([^"\n]+)"', re.M
)


def _main_ledger_text(ledger: Path | None) -> str:
    if ledger is None:
        return ""
    try:
        return ledger.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def ledger_roots(ledger: Path | None) -> tuple[str, str]:
    """The ledger's root names of asset and liability accounts.

    Read with a light parse of the main file's ``option "name_assets"`` and
    ``option "name_liabilities"`` (Beancount takes options from the main file
    only); ``("Assets", "Liabilities")`` when unset or without a ledger.
    """
    roots = {"assets": "Assets", "liabilities": "Liabilities"}
    for kind, name in _ROOT_OPTION_RE.findall(_main_ledger_text(ledger)):
        roots[kind] = name
    return roots["assets"], roots["liabilities"]


def served_folders(ledger: Path | None) -> list[tuple[Path, str]]:
    """Folders Fava serves files from: the ledger's documents and import folders."""
    text = _main_ledger_text(ledger)
    if ledger is None or not text:
        return []
    base = ledger.parent
    found = [(p, 'option "documents"') for p in _DOCUMENTS_RE.findall(text)]
    found += [(p, 'fava-option "import-dirs"') for p in _IMPORT_DIRS_RE.findall(text)]
    return [((base / Path(p).expanduser()).resolve(), why) for p, why in found]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_credentials_place(
    path: Path, ledger: Path | None, *, explicit: bool, default: Path
) -> Path:
    """Refuse a credentials file that Fava could serve.

    Fava serves files under the ledger's documents and import folders
    (``/<ledger>/document/?filename=...``); a configured ``credentials_file``
    must also stay out of the ledger's own folder. The default location is
    only checked against the served folders; ``default`` is suggested instead.

    Returns:
        ``path``, safe.

    Raises:
        ConfigError: naming the folder and the fix.
    """
    places = served_folders(ledger)
    if explicit and ledger is not None:
        places.insert(0, (ledger.parent.resolve(), "the ledger's folder"))
    for folder, why in places:
        if _inside(path.resolve(), folder):
            raise ConfigError(
                f"credentials file {path} is inside {folder} ({why}), where Fava can serve it: "
                f"set `credentials_file` to a path outside the ledger's folder, e.g. "
                f"{default}"
            )
    return path
