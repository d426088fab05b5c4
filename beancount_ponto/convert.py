"""Convert Ponto records into Beancount 3 directives and text.

Contract: everything here is pure (no I/O, no clock, no network).

* :func:`transaction_to_entry` turns one :class:`~beancount_ponto.ponto.models.Transaction`
  into a balanced ``beancount.core.data.Transaction`` with two explicit postings:
  the linked account gets exactly the Decimal amount Ponto sent, the counter
  account its negation, both written with at least the currency's ISO 4217
  decimals (``-42.5`` EUR as ``-42.50``; padding only, never rounding). The
  entry date is the bank's local date (see :func:`local_date`). The narration
  is the communication (``remittanceInformation``), else ``details``, else
  ``remittanceInformationUnstructuredArray``, else the bank's ``description``;
  the ones not used there go to metadata (``description``, ``details``,
  ``remittance_information_array``) unless they repeat the narration.
  Metadata starts with ``ponto_id`` (the dedup key), followed by the non-empty
  bank fields in a fixed order (``internal_reference`` included).
* :func:`balance_to_entry` turns an :class:`~beancount_ponto.ponto.models.Account`'s
  current balance into a ``balance`` assertion on the day after its reference date.
* :func:`clean_text` makes bank text one safe line: NFC, line breaks and ``<br>``
  become ``" | "``, control and invisible/bidi characters go, whitespace collapses.
  The text is never truncated.
* :func:`format_entries` prints with Beancount's own printer. It escapes
  backslashes and double quotes in strings (``misc_utils.escape_string``) and the
  lexer un-escapes them (C-style ``cunescape``); strings have no length limit,
  only a limit on lines, which cleaned (one-line) text never reaches. Numbers
  print in plain notation with the default display context, so exact Decimals
  round-trip (Beancount's parser keeps 28 significant digits for negative
  numbers). Money is always :class:`~decimal.Decimal`, never float.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from babel.numbers import get_currency_precision
from beancount.core import data
from beancount.core.amount import Amount
from beancount.parser import printer

from beancount_ponto.errors import ConfigError, MalformedResponseError
from beancount_ponto.ledger_options import check_account

if TYPE_CHECKING:
    from collections.abc import Iterable

    from beancount_ponto.ponto.models import Account, Transaction

__all__ = [
    "ConvertOptions",
    "balance_to_entry",
    "clean_text",
    "format_entries",
    "local_date",
    "transaction_to_entry",
]

#: ``filename`` put in the metadata of generated directives.
SOURCE_FILENAME = "<ponto>"

#: Placeholder some banks send when a payment has no end-to-end id.
_NOT_PROVIDED = "NOTPROVIDED"

#: A currency as Beancount's lexer accepts it (single capital, name, or /future).
_CURRENCY_RE = re.compile(
    r"[A-Z]|[A-Z][A-Z0-9'._\-]*[A-Z0-9]|/[A-Z0-9'._\-]*[A-Z](?:[A-Z0-9'._\-]*[A-Z0-9])?",
    re.ASCII,
)

#: Line breaks: CRLF, LF, CR, NEL, LS, PS and HTML <br>, <br/>, <br /> in any case.
_LINE_BREAK_RE = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]|<br\s*/?>", re.IGNORECASE)

#: Invisible characters that can hide or reorder text: zero-width space, LRM/RLM,
#: bidi embeddings/overrides/isolates, word joiner and invisible operators, ALM, BOM.
#: ZWNJ/ZWJ (U+200C/U+200D) are kept: emoji sequences and Persian/Indic text need them.
_INVISIBLE_RE = re.compile(
    "[\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u061c\ufeff]"
)

#: C0 and C1 controls (TAB included) and lone surrogates (not encodable in UTF-8).
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

_WHITESPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class ConvertOptions:
    """How Ponto records become directives.

    Attributes:
        account: the linked ledger account, e.g. ``"Assets:Bank:Checking"``.
        time_zone: the zone used to turn Ponto timestamps into dates.
        counter_account: the placeholder account balancing each transaction.
        use_value_date: date entries by ``valueDate`` instead of ``executionDate``.
        flag: the transaction flag, ``"*"`` or ``"!"``.
        ponto_account_id: the Ponto account linked to ``account``, if known.

    Raises:
        ConfigError: if an account name or the flag is invalid.
    """

    account: str
    time_zone: dt.tzinfo
    counter_account: str = "Expenses:Uncategorized"
    use_value_date: bool = False
    flag: str = "*"
    ponto_account_id: str | None = None

    def __post_init__(self) -> None:
        for name in (self.account, self.counter_account):
            check_account(name, None, what="ConvertOptions")
        if self.flag not in ("*", "!"):
            raise ConfigError(f"The transaction flag must be '*' or '!', not {self.flag!r}")
        if not isinstance(self.time_zone, dt.tzinfo):
            raise ConfigError(f"Not a time zone: {self.time_zone!r}")


def local_date(ts: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """Return the calendar date of ``ts`` in the zone ``tz``.

    Ponto sends the bank's local midnight as UTC, so
    ``2024-03-01T23:00:00Z`` is 2024-03-02 in Europe/Brussels.

    Args:
        ts: a timestamp; a naive one is taken as UTC.
        tz: the zone whose calendar date is wanted.

    Returns:
        The local date.
    """
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(tz).date()


def _clean_line(text: str) -> str:
    text = _INVISIBLE_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text)
    return _WHITESPACE_RE.sub(" ", text).strip()


_ANGLE_BRACKETS = str.maketrans({"<": "\u2039", ">": "\u203a"})


def clean_text(text: str | None) -> str | None:
    """Make bank text one safe, readable line.

    Unicode is normalised to NFC; line breaks (CRLF, LF, CR, NEL, U+2028,
    U+2029) and HTML ``<br>`` tags become ``" | "`` (consecutive or edge
    breaks collapse); control characters become spaces; invisible and bidi
    control characters are removed; whitespace runs collapse to one space;
    ``<`` and ``>`` become U+2039 and U+203A (angle quotes), because Fava 1.30 shows payee and
    narration in its journal without HTML escaping, and anyone can choose the
    name on a transfer to you (``<img src=x onerror=...>`` would run script).
    Other printable text (accents, emoji, any script) is kept whole, never
    truncated.

    Args:
        text: the raw text, or None.

    Returns:
        The cleaned text, or None if nothing is left.
    """
    if text is None:
        return None
    normalized = unicodedata.normalize("NFC", text)
    lines = (_clean_line(part) for part in _LINE_BREAK_RE.split(normalized))
    result = " | ".join(line for line in lines if line).translate(_ANGLE_BRACKETS)
    return result or None


def _check_currency(currency: object, what: str) -> str:
    if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
        raise MalformedResponseError(f"Ponto sent {what} with an invalid currency: {currency!r}")
    return currency


def minor_units(number: Decimal, currency: str) -> Decimal:
    """``number`` with at least the currency's ISO 4217 decimals (``-42.5 EUR`` -> ``-42.50``).

    Only pads with zeros: digits beyond the minor unit are kept, never rounded.
    Unknown codes get two decimals (Babel's default).
    """
    digits = get_currency_precision(currency)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -digits:
        return number.quantize(Decimal(1).scaleb(-digits))
    return number


def _check_amount(number: object, what: str) -> Decimal:
    if not isinstance(number, Decimal) or not number.is_finite():
        raise MalformedResponseError(
            f"Ponto sent {what} with an amount that is not exact: {number!r}"
        )
    return number


def _check_id(identifier: str, what: str) -> str:
    if clean_text(identifier) != identifier:
        raise MalformedResponseError(f"Ponto sent {what} with an unusable id: {identifier!r}")
    return identifier


def _negate(number: Decimal) -> Decimal:
    """Exact negation (no context rounding), never ``-0``."""
    return number.copy_negate() if number else number.copy_abs()


def _meta_number(number: Decimal) -> Decimal | str:
    """A metadata number that prints in plain notation.

    The printer writes metadata Decimals with ``str()``; ``1E+2`` would be a
    syntax error and ``1E-7`` would silently parse as the amount ``1 E-7``.
    Positive exponents are expanded exactly; a number too small for plain
    ``str()`` becomes its exact plain text.
    """
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        number = Decimal(format(number, "f"))
    text = str(number)
    return number if "E" not in text.upper() else format(number, "f")


def transaction_to_entry(tx: Transaction, options: ConvertOptions) -> data.Transaction:
    """Convert one Ponto transaction into a balanced Beancount transaction.

    Args:
        tx: the Ponto transaction.
        options: the conversion settings.

    Returns:
        A transaction with two explicit postings (linked account and counter account).

    Raises:
        MalformedResponseError: if the currency, the amount or the id is unusable.
    """
    what = f"transaction {tx.id!r}"
    _check_id(tx.id, what)
    currency = _check_currency(tx.currency, what)
    number = _check_amount(tx.amount, what)

    other: dt.date | None
    execution = local_date(tx.execution_date, options.time_zone)
    value = local_date(tx.value_date, options.time_zone) if tx.value_date else None
    if options.use_value_date and value is not None:
        date, other_key, other = value, "execution_date", execution
    else:
        date, other_key, other = execution, "value_date", value

    remittance = clean_text(tx.remittance_information)
    description = clean_text(tx.description)
    details = clean_text(tx.details)
    array = clean_text(tx.remittance_information_array)
    narration = remittance or details or array or description or ""
    structured = (tx.remittance_information_type or "").strip().lower() == "structured"
    end_to_end = clean_text(tx.end_to_end_id)
    if end_to_end is not None and end_to_end.upper() == _NOT_PROVIDED:
        end_to_end = None
    fee = _check_amount(tx.fee, f"{what} fee") if tx.fee is not None else None

    candidates: list[tuple[str, object]] = [
        ("description", description if description != narration else None),
        ("details", details if details != narration else None),
        ("remittance_information_array", array if array != narration else None),
        ("counterpart_iban", clean_text(tx.counterpart_reference)),
        ("structured_reference", remittance if structured else None),
        ("end_to_end_id", end_to_end),
        ("bank_transaction_code", clean_text(tx.bank_transaction_code)),
        ("proprietary_bank_transaction_code", clean_text(tx.proprietary_bank_transaction_code)),
        ("purpose_code", clean_text(tx.purpose_code)),
        ("mandate_id", clean_text(tx.mandate_id)),
        ("creditor_id", clean_text(tx.creditor_id)),
        ("card_reference", clean_text(tx.card_reference)),
        ("card_reference_type", clean_text(tx.card_reference_type)),
        ("additional_information", clean_text(tx.additional_information)),
        ("internal_reference", clean_text(tx.internal_reference)),
        ("fee", _meta_number(fee) if fee else None),
        (other_key, other if other is not None and other != date else None),
    ]
    meta = data.new_metadata(SOURCE_FILENAME, 0, {"ponto_id": tx.id})
    meta.update((key, val) for key, val in candidates if val is not None)

    postings = [
        data.Posting(
            options.account, Amount(minor_units(number, currency), currency), None, None, None, None
        ),
        data.Posting(
            options.counter_account,
            Amount(minor_units(_negate(number), currency), currency),
            None,
            None,
            None,
            None,
        ),
    ]
    return data.Transaction(
        meta,
        date,
        options.flag,
        clean_text(tx.counterpart_name),
        narration,
        data.EMPTY_SET,
        data.EMPTY_SET,
        postings,
    )


def balance_to_entry(account: Account, options: ConvertOptions) -> data.Balance | None:
    """Convert an account's current balance into a balance assertion.

    Beancount checks a ``balance`` at the start of its date, so the assertion is
    dated the day after the balance's reference date (in ``options.time_zone``).

    Args:
        account: the Ponto account.
        options: the conversion settings (``options.account`` is asserted).

    Returns:
        The balance directive, or None if Ponto gave no balance or no reference date.

    Raises:
        MalformedResponseError: if the currency, the balance or the id is unusable.
    """
    if account.current_balance is None or account.current_balance_reference_date is None:
        return None
    what = f"account {account.id!r}"
    _check_id(account.id, what)
    currency = _check_currency(account.currency, what)
    number = _check_amount(account.current_balance, what)
    reference = local_date(account.current_balance_reference_date, options.time_zone)
    meta = data.new_metadata(
        SOURCE_FILENAME, 0, {"ponto_balance": f"{account.id}/{reference.isoformat()}"}
    )
    return data.Balance(
        meta,
        reference + dt.timedelta(days=1),
        options.account,
        Amount(minor_units(number, currency), currency),
        None,
        None,
    )


def format_entries(entries: Iterable[data.Directive]) -> str:
    """Print directives as Beancount text, one blank line between entries.

    Uses Beancount's printer with its default display context, so numbers keep
    their exact digits and strings are escaped the way the lexer expects.

    Args:
        entries: the directives to print, in the order given.

    Returns:
        The text; empty for no entries, else ending with a newline.
    """
    return "\n".join(printer.format_entry(entry) for entry in entries)
