"""How many of bean-ponto's entries wait for the user's review, from a text scan of the ledger.

Contract:

* An entry waits for review when it carries a ``ponto_id`` (bean-ponto wrote
  it) and either is a learned guess not yet reviewed (the review flag, ``!`` by default, with the
  ``ponto_guess`` metadata that :mod:`beancount_ponto.pipeline` writes) or
  still posts to a placeholder (``counter_account`` or ``income_account``).
  Wherever the user moved it, in any included file.
* :func:`count_to_review` reads the ledger's files textually (as
  :mod:`beancount_ponto.ledger` does: no Beancount load, no plugins), so it
  costs a fraction of ``bean-check``; the sync never calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from beancount_ponto.learn_cache import _ENTRY_RE, _META_RE, _POSTING_RE, GUESS_META_KEY
from beancount_ponto.ledger import ledger_files

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable
    from pathlib import Path

__all__ = ["count_in_text", "count_to_review", "waits_for_review"]


def waits_for_review(
    flag: str | None,
    meta_keys: Collection[str],
    accounts: Iterable[str],
    placeholders: frozenset[str],
    *,
    review_flag: str = "!",
    guess_key: str = GUESS_META_KEY,
) -> bool:
    """The rule of the module contract, for one entry (read as text or loaded)."""
    if "ponto_id" not in meta_keys:
        return False
    if flag == review_flag and guess_key in meta_keys:
        return True
    return any(account in placeholders for account in accounts)


def count_in_text(
    text: str,
    placeholders: frozenset[str],
    *,
    review_flag: str = "!",
    guess_key: str = GUESS_META_KEY,
) -> int:
    """The entries of one file's text that wait for review (see module doc)."""
    count = 0
    for entry in _ENTRY_RE.finditer(text):
        _day, flag, _header, body = entry.groups()
        keys = {key for key, _value in _META_RE.findall(body)}
        accounts = (p[0] for p in _POSTING_RE.findall(body))
        if waits_for_review(
            flag, keys, accounts, placeholders, review_flag=review_flag, guess_key=guess_key
        ):
            count += 1
    return count


def count_to_review(
    main: Path, placeholders: frozenset[str], extra: Path | None = None, *, review_flag: str = "!"
) -> int:
    """The entries of the ledger (and of ``extra``, if not included) that wait for review.

    Args:
        main: the main ledger file.
        placeholders: the placeholder accounts (``counter_account``, ``income_account``).
        review_flag: the flag of a learned guess not yet reviewed.
        extra: a file to count even if the ledger does not include it (the output).

    Raises:
        LedgerError: if the main file does not exist or a file cannot be read.
        OSError: if ``extra`` cannot be read.
    """
    files = ledger_files(main)
    if extra is not None and extra.exists() and extra.resolve() not in files:
        files = [*files, extra.resolve()]
    return sum(
        count_in_text(
            path.read_text(encoding="utf-8", errors="replace"),
            placeholders,
            review_flag=review_flag,
        )
        for path in files
    )
