"""Training examples read from the ledger's own entries, cached by file stamps.

Contract:

* :func:`examples_from_text` reads one ledger file's text (textually, like
  :mod:`beancount_ponto.ledger`: no Beancount load, no booking, no plugins)
  and returns an :class:`~beancount_ponto.learn.Example` for every
  transaction with a posting on a linked account, wherever the user moved it.
  The label is the account of the largest other posting. The bank's fields
  are what bean-ponto wrote: payee (counterpart name), narration
  (communication), ``counterpart_iban`` and ``description`` metadata and the
  linked posting's amount. Left out: entries whose other leg is still a
  placeholder (``skip_labels``) and guesses not yet reviewed (flag ``!`` with
  the ``ponto_guess`` metadata written by :func:`beancount_ponto.booking.book`),
  so the predictor never learns from itself.
* :class:`LearnCache` remembers the examples of each file with its stamp
  ``(path, mtime_ns, size)``. :func:`refresh` stats the ledger's files and
  reads again only those whose stamp changed (and the include graph only
  where it changed), so an hourly run on an unchanged ledger reads no ledger
  file. A file that only grew by whole entries (its old content has the
  digest remembered, and the new text does not continue the last entry) has
  just its new tail parsed, so bean-ponto's own appends stay cheap. The
  cache is JSON with a version; an unreadable cache, another version or
  other linked accounts mean starting afresh (never an error).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from beancount_ponto.fileutil import atomic_write_text
from beancount_ponto.learn import Example, features_of
from beancount_ponto.ledger import IncludeCache, ledger_files, state_dir
from beancount_ponto.rules import BankFields

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CACHE_VERSION",
    "GUESS_META_KEY",
    "FileExamples",
    "LearnCache",
    "cache_path",
    "examples_from_text",
    "load_cache",
    "refresh",
    "save_cache",
]

#: Bump when features or extraction change: older caches are then rebuilt.
CACHE_VERSION = 1

#: The metadata key a learned guess carries until the user reviews it.
GUESS_META_KEY = "ponto_guess"

_STRING = r'"((?:[^"\\\n]|\\.)*)"'
_ENTRY_RE = re.compile(
    r"^(\d{4}-\d\d-\d\d)[ \t]+(txn|[*!&#?%A-Z])[ \t]*([^\n]*)\n((?:[ \t]+[^\s][^\n]*(?:\n|\Z))*)",
    re.MULTILINE,
)
_STRING_RE = re.compile(_STRING)
_META_RE = re.compile(rf"^[ \t]+([a-z][A-Za-z0-9_-]*):[ \t]*(?:{_STRING})?", re.MULTILINE)
_POSTING_RE = re.compile(
    r"^[ \t]+(?:[*!][ \t]+)?([A-Z][A-Za-z0-9-]*(?::[A-Za-z0-9][A-Za-z0-9-]*)+)"
    r"(?:[ \t]+([-+]?[0-9][0-9,]*(?:\.[0-9]*)?)[ \t]+([A-Z][A-Z0-9'._-]*))?",
    re.MULTILINE,
)
_UNESCAPE_RE = re.compile(r"\\(.)")


def _number(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _other_leg(
    postings: list[tuple[str, str, str]], amounts: list[Decimal | None], index: int
) -> tuple[Decimal, str] | None:
    """The linked posting's amount and the account of the largest other posting."""
    others = [i for i in range(len(postings)) if i != index]
    own = amounts[index]
    if own is None:  # an auto-balanced linked posting
        own = -sum((a for i in others if (a := amounts[i]) is not None), Decimal(0))
    if not own:
        return None
    known = sum((abs(a) for i in others if (a := amounts[i]) is not None), Decimal(0))
    sizes = [abs(a) if (a := amounts[i]) is not None else abs(own) - known for i in others]
    return own, postings[others[max(range(len(others)), key=sizes.__getitem__)]][0]


def examples_from_text(
    text: str,
    accounts: frozenset[str],
    *,
    skip_labels: frozenset[str] = frozenset(),
    guess_key: str = GUESS_META_KEY,
) -> dict[str, list[Example]]:
    """The training examples in one file's text, per linked account (see module doc).

    Args:
        text: the file's content.
        accounts: the linked ledger accounts (bank accounts).
        skip_labels: other-leg accounts not to learn from (the placeholders).
        guess_key: entries flagged ``!`` with this metadata are unreviewed guesses.

    Returns:
        For each linked account with examples, its examples in file order.
    """
    result: dict[str, list[Example]] = defaultdict(list)
    for entry in _ENTRY_RE.finditer(text):
        day, flag, header, body = entry.groups()
        postings = _POSTING_RE.findall(body)
        if len(postings) < 2 or not any(p[0] in accounts for p in postings):
            continue
        meta: dict[str, str] = {}
        for key, value in _META_RE.findall(body):
            meta.setdefault(key, _UNESCAPE_RE.sub(r"\1", value))
        if flag == "!" and guess_key in meta:
            continue
        strings = [_UNESCAPE_RE.sub(r"\1", s) for s in _STRING_RE.findall(header.split(";")[0])]
        payee = strings[0] if len(strings) >= 2 else None
        narration = strings[-1] if strings else None
        try:
            ordinal = dt.date.fromisoformat(day).toordinal()
        except ValueError:
            continue  # bean-check reports the bad date
        amounts = [_number(p[1]) for p in postings]
        for index, (account, _number_text, currency) in enumerate(postings):
            if account not in accounts:
                continue
            found = _other_leg(postings, amounts, index)
            if found is None:
                continue
            own, label = found
            if label in skip_labels:
                continue
            fields = BankFields(
                linked_account=account,
                amount=own,
                currency=currency or "",
                counterpart_name=payee,
                counterpart_iban=meta.get("counterpart_iban"),
                communication=narration,
                description=meta.get("description"),
            )
            result[account].append(Example(ordinal, label, features_of(fields)))
    return dict(result)


@dataclass
class FileExamples:
    """The examples of one ledger file at one stamp.

    The examples stay encoded (``rows_json``) until first asked for, so that
    an idle run, which only compares stamps, never decodes them.

    Attributes:
        mtime_ns: the file's modification time when read.
        size: the file's size when read.
        digest: the BLAKE2b digest (hex) of its content, to recognise a pure append.
        rows_json: the examples as JSON rows ``[account, label, features, [days]]``.
        decoded: the examples per linked account, once decoded or when freshly read.
    """

    mtime_ns: int
    size: int
    digest: str = ""
    rows_json: str | None = None
    decoded: dict[str, list[Example]] | None = field(default=None, repr=False)

    @property
    def examples(self) -> dict[str, list[Example]]:
        """The examples per linked account.

        Raises:
            ValueError: if the encoded rows are not what :meth:`encoded` writes.
        """
        if self.decoded is None:
            self.decoded = _decode_rows(self.rows_json or "[]")
        return self.decoded

    def encoded(self) -> str:
        """The examples as JSON rows; identical examples are stored once with their days."""
        if self.rows_json is None:
            rows: dict[tuple[str, str, str], list[int]] = defaultdict(list)
            for account, examples in (self.decoded or {}).items():
                for e in examples:
                    rows[(account, e.label, " ".join(e.features))].append(e.day)
            rows_out = [[*key, days] for key, days in rows.items()]
            self.rows_json = json.dumps(rows_out, separators=(",", ":"))
        return self.rows_json


def _decode_rows(text: str) -> dict[str, list[Example]]:
    examples: dict[str, list[Example]] = defaultdict(list)
    try:
        for account, label, features, days in json.loads(text):
            shared = tuple(features.split(" ")) if features else ()
            examples[str(account)].extend(Example(int(d), str(label), shared) for d in days)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a learning cache: {exc}") from None
    return dict(examples)


@dataclass
class LearnCache:
    """What was learned from each ledger file, keyed by its stamp (see module doc).

    Attributes:
        accounts: the linked accounts the examples were read for.
        skip_labels: the placeholder accounts left out.
        files: per resolved file path, its stamp and examples.
        includes: the include patterns per file (see :func:`~beancount_ponto.ledger.ledger_files`).
        version: the cache format; another version is discarded on load.
    """

    accounts: frozenset[str]
    skip_labels: frozenset[str] = frozenset()
    files: dict[str, FileExamples] = field(default_factory=dict)
    includes: IncludeCache = field(default_factory=dict)
    version: int = CACHE_VERSION

    def examples(self, account: str) -> list[Example]:
        """Every example of ``account``, over all files, in file order."""
        return [e for f in self.files.values() for e in f.examples.get(account, [])]

    def to_json(self) -> str:
        """The cache as compact JSON; each file's examples are one encoded string."""
        files: dict[str, Any] = {
            path: [item.mtime_ns, item.size, item.digest, item.encoded()]
            for path, item in self.files.items()
        }
        document = {
            "version": self.version,
            "accounts": sorted(self.accounts),
            "skip_labels": sorted(self.skip_labels),
            "includes": self.includes,
            "files": files,
        }
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LearnCache:
        """Read what :meth:`to_json` wrote.

        Raises:
            ValueError: if the text is not such a cache (of this version).
        """
        try:
            document = json.loads(text)
            if document["version"] != CACHE_VERSION:
                raise ValueError(f"cache version {document['version']}, not {CACHE_VERSION}")
            files: dict[str, FileExamples] = {}
            for path, (mtime_ns, size, digest, rows) in document["files"].items():
                if not isinstance(rows, str):
                    raise TypeError("rows are not encoded")
                files[path] = FileExamples(int(mtime_ns), int(size), str(digest), rows)
            return cls(
                accounts=frozenset(document["accounts"]),
                skip_labels=frozenset(document["skip_labels"]),
                files=files,
                includes=dict(document["includes"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a learning cache: {exc}") from None


def cache_path(output: Path) -> Path:
    """Where the learning cache of ``output`` lives, in bean-ponto's state folder."""
    return state_dir(output) / f"{output.name}.learned.json"


def load_cache(path: Path) -> LearnCache | None:
    """The cache saved at ``path``, or None if absent, unreadable or of another version."""
    try:
        return LearnCache.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_cache(path: Path, cache: LearnCache) -> None:
    """Write the cache atomically (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, cache.to_json())


def _starts_an_entry(before: bytes, tail: bytes) -> bool:
    """Whether ``tail``, appended after ``before``, cannot continue its last entry."""
    if not before.endswith(b"\n") and not tail.startswith(b"\n"):
        return False
    first = tail.lstrip(b"\r\n")
    return not first[:1].isspace()


def _read_file(
    path: Path, known: FileExamples | None, accounts: frozenset[str], skip_labels: frozenset[str]
) -> FileExamples:
    """Read one changed file; when it only grew by whole entries, parse just the new tail."""
    stat = path.stat()
    content = path.read_bytes()
    hasher = hashlib.blake2b(digest_size=16)
    if known is not None and known.digest and 0 < known.size < len(content):
        view = memoryview(content)
        hasher.update(view[: known.size])
        prefix_digest = hasher.hexdigest()
        hasher.update(view[known.size :])
        last, tail = content[known.size - 1 : known.size], content[known.size :]
        if prefix_digest == known.digest and _starts_an_entry(last, tail):
            added = examples_from_text(
                tail.decode("utf-8", errors="replace"), accounts, skip_labels=skip_labels
            )
            grown = FileExamples(stat.st_mtime_ns, len(content), hasher.hexdigest())
            if known.decoded is not None:
                merged = {a: [*known.decoded.get(a, []), *added.get(a, [])] for a in accounts}
                grown.decoded = {a: rows for a, rows in merged.items() if rows}
            if known.rows_json is not None:  # the old rows are kept encoded, as they were
                new = FileExamples(0, 0, decoded=added).encoded()
                old = known.rows_json
                grown.rows_json = (
                    old if new == "[]" else new if old == "[]" else f"{old[:-1]},{new[1:]}"
                )
            return grown
    else:
        hasher.update(content)
    text = content.decode("utf-8", errors="replace")
    examples = examples_from_text(text, accounts, skip_labels=skip_labels)
    return FileExamples(stat.st_mtime_ns, len(content), hasher.hexdigest(), decoded=examples)


def refresh(
    cache: LearnCache | None,
    main: Path,
    accounts: frozenset[str],
    *,
    skip_labels: frozenset[str] = frozenset(),
) -> tuple[LearnCache, list[Path]]:
    """Bring the cache up to date with the ledger's files, reading only changed ones.

    Args:
        cache: the cache from the last run, or None.
        main: the main ledger file.
        accounts: the linked accounts to learn for.
        skip_labels: the placeholder accounts not to learn from.

    Returns:
        The up-to-date cache (a new one if ``cache`` was for other accounts or
        placeholders) and the files that had to be read (empty: nothing
        changed, so there is nothing to save).

    Raises:
        LedgerError: if the main file does not exist or a file cannot be read.
    """
    if cache is None or cache.accounts != accounts or cache.skip_labels != skip_labels:
        cache = LearnCache(accounts=accounts, skip_labels=skip_labels)
    before = {path: list(value) for path, value in cache.includes.items()}
    files = ledger_files(main, cache=cache.includes)
    read: list[Path] = []
    current: dict[str, FileExamples] = {}
    for path in files:
        key = str(path)
        stat = path.stat()
        known = cache.files.get(key)
        if known is not None and (known.mtime_ns, known.size) == (stat.st_mtime_ns, stat.st_size):
            current[key] = known
            continue
        current[key] = _read_file(path, known, accounts, skip_labels)
        read.append(path)
    if set(current) != set(cache.files) or cache.includes != before:
        read = read or [main]  # the set of files changed: worth saving
    cache.files = current
    return cache, read
