"""``ponto.toml`` is the user's file: edits keep its comments and layout, typos are named.

Contract:

* :func:`merge_document` takes the file's current text (None when there is
  none yet) and the values bean-ponto wants in it, and returns the new text
  through tomlkit's round-trip document: every comment, blank line, key order
  and unknown key of the user stays; a value is only rewritten when it
  changes; a managed key or ``[accounts.ID]`` table that is no longer wanted
  is removed.
* :func:`check_keys` names the first key of a table that bean-ponto does not
  know, with the closest valid key (``difflib``), so a misspelt
  ``strat_date`` is an error and not a silently ignored setting.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import tomlkit
from tomlkit.items import Comment, Table, Whitespace

from beancount_ponto.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

ACCOUNTS = "accounts"


def check_keys(table: Mapping[str, object], valid: Collection[str], where: str) -> None:
    """Refuse a key of ``table`` that is not in ``valid``.

    Raises:
        ConfigError: naming the key, where it is, and the closest valid key.
    """
    for key in table:
        if key in valid:
            continue
        close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else f"valid keys: {', '.join(sorted(valid))}"
        raise ConfigError(f"{where}: unknown key `{key}`; {hint}")


def _update_table(table: Any, wanted: Mapping[str, Any], managed: Collection[str]) -> None:
    """Set changed values of ``wanted`` in ``table``; drop managed keys no longer wanted."""
    for key in list(table):
        if key in managed and key not in wanted:
            del table[key]
    for key, value in wanted.items():
        current = table.get(key)
        plain = current.unwrap() if hasattr(current, "unwrap") else current
        if current is None or plain != value or type(plain) is not type(value):
            table[key] = value


def _trailing_comments(table: Any) -> list[Any]:
    """The comments and blank lines after a table's last value (tomlkit puts them in it)."""
    if not isinstance(table, Table):
        return []
    out: list[Any] = []
    for key, item in reversed(table.value.body):
        if key is not None or not isinstance(item, Comment | Whitespace):
            break
        out.append(item)
    return out[::-1]


def merge_document(
    text: str | None,
    values: Mapping[str, Any],
    links: Mapping[str, Mapping[str, Any]],
    *,
    managed: Collection[str],
    link_keys: Collection[str],
    header: str,
) -> str:
    """The new text of the config file.

    Args:
        text: the file's current text, or None for a new file.
        values: the top-level options wanted (default values left out).
        links: per Ponto account id, the ``[accounts.ID]`` values wanted.
        managed: the top-level keys bean-ponto owns (removed when not in ``values``).
        link_keys: the keys of an account table bean-ponto owns.
        header: the comment that starts a new file.

    Raises:
        ConfigError: if ``text`` is not valid TOML.
    """
    try:
        doc = tomlkit.parse(text) if text is not None else tomlkit.document()
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    if text is None:
        doc.add(tomlkit.comment(header.lstrip("# ").rstrip("\n")))
    top = {k: v for k, v in values.items() if k != ACCOUNTS}
    _update_table(doc, top, set(managed) - {ACCOUNTS})
    accounts = doc.get(ACCOUNTS)
    if not isinstance(accounts, Table):
        if accounts is not None:
            del doc[ACCOUNTS]
        accounts = tomlkit.table(is_super_table=True)
        if links:
            doc[ACCOUNTS] = accounts
            accounts = doc[ACCOUNTS]
    for pid in list(accounts):
        if pid not in links:
            kept = _trailing_comments(accounts[pid])
            del accounts[pid]
            rest = [accounts[other] for other in accounts if isinstance(accounts[other], Table)]
            into = rest[-1].value if rest else doc
            for item in kept:  # the user's comments after that table stay
                into.append(None, item)
    for pid, wanted in links.items():
        table = accounts.get(pid)
        if not isinstance(table, Table):
            table = tomlkit.table()
            accounts[pid] = table
            table = accounts[pid]
        _update_table(table, wanted, link_keys)
    return tomlkit.dumps(doc)
