"""What bean-ponto reads from the main ledger's options, with a light parse.

Contract: the main file is read as text (no Beancount load: cheap on a large
ledger); options count only in the main file, as in Beancount. A missing or
unreadable ledger gives the defaults.

* :func:`account_types`: the five root names (``name_assets`` ... ``name_expenses``),
  as Beancount's :class:`~beancount.core.account_types.AccountTypes`.
* :func:`root_options`: those names as ``option`` lines, which every file
  bean-ponto writes repeats (Beancount reads an included file with the
  default roots otherwise).
* :func:`check_account`: the one check of an account name bean-ponto is told
  to post to (links, placeholders, transit account, rules, own accounts):
  Beancount's syntax, under one of the ledger's roots.
* :func:`served_folders`: the documents and Fava import folders, which Fava
  serves through ``/<ledger>/document/?filename=...``.
* :func:`check_credentials_place`: refuses a credentials file Fava could serve.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from beancount.core import account as bc_account
from beancount.core.account_types import DEFAULT_ACCOUNT_TYPES, AccountTypes

from beancount_ponto.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

_ROOT_OPTION_RE = re.compile(
    r'^option[ \t]+"name_(assets|liabilities|equity|income|expenses)"[ \t]+"([^"\n]+)"', re.M
)
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


def account_types(ledger: Path | None) -> AccountTypes:
    """The ledger's five root names, from its ``option "name_*"`` lines.

    Read with a light parse of the main file (Beancount takes options from the
    main file only); Beancount's defaults (``Assets`` ... ``Expenses``) for an
    unset option, a missing ledger or none.
    """
    names = DEFAULT_ACCOUNT_TYPES._asdict()
    for kind, name in _ROOT_OPTION_RE.findall(_main_ledger_text(ledger)):
        names[kind] = name
    return AccountTypes(**names)


def root_options(ledger: Path | None) -> str:
    """The ``option "name_*"`` lines of the ledger's renamed roots, for a file it includes.

    Beancount parses each included file with the default root names unless the
    file repeats the options: a file of ``Activa:...`` entries included by a
    Dutch-rooted ledger fails with "Invalid account name" otherwise. Empty when
    the ledger keeps Beancount's defaults.
    """
    types = account_types(ledger)
    return "".join(
        f'option "name_{kind}" "{name}"\n'
        for kind, name in types._asdict().items()
        if name != getattr(DEFAULT_ACCOUNT_TYPES, kind)
    )


def check_account(
    name: str,
    types: AccountTypes | None,
    *,
    what: str,
    roots: Sequence[str] | None = None,
) -> str:
    """The one check of an account name bean-ponto is told to post to.

    Args:
        name: the account name.
        types: the ledger's roots (:func:`account_types`); None checks the
            syntax only (a library caller that has no ledger).
        what: where the name comes from (``counter_account``, ``[[rules]] 2``,
            ``link``), said first in the message.
        roots: the roots allowed here (a link: the asset and liability roots);
            default: the ledger's five.

    Returns:
        ``name``, valid.

    Raises:
        ConfigError: one line naming ``what``, the name and the roots allowed.
    """
    example = f"{(types or DEFAULT_ACCOUNT_TYPES).assets}:Bank:Checking"
    if not isinstance(name, str) or not bc_account.is_valid(name):
        raise ConfigError(f"{what}: {name!r} is not a Beancount account name (like {example})")
    if types is None:
        return name
    if roots is not None:
        if bc_account.root(1, name) not in roots:
            under = " or ".join(f"{root}:" for root in roots)
            raise ConfigError(
                f"{what}: {name} is not an asset or liability account: link the bank account "
                f"to an account under {under} (like {roots[0]}:Bank:Checking)"
            )
        return name
    if bc_account.root(1, name) not in types:
        raise ConfigError(
            f"{what}: {name} is not under one of the ledger's roots "
            f"({', '.join(types)}): fix the name, or the ledger's name_* options"
        )
    return name


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
