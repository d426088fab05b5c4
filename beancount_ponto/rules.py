"""Booking rules from ``[[rules]]`` tables in ponto.toml: parsing, validation, matching.

Contract (pure: no I/O, no clock):

* A rule books the other leg of a bank transaction to ``account`` (required).
  It matches on ``counterpart_iban`` (the counterpart's IBAN, compared without
  spaces and ignoring case) and/or ``match`` (a regular expression searched,
  ignoring case, in the counterpart name, the communication and the bank's
  description, each on its own); at least one of the two is required. When a
  rule gives several conditions, all must hold. Optional conditions:
  ``sign`` (``"debit"``: money out, ``"credit"``: money in), ``min_amount`` /
  ``max_amount`` (bounds, inclusive, on the absolute amount, exact Decimals)
  and ``linked_account`` (the ledger account the bank account is linked to).
* Optional actions: ``payee`` and ``narration`` (replace the bank's text),
  ``tags`` (a list of tag names, without ``#``) and ``flag`` (``"*"`` or ``"!"``).
* :func:`parse_rules` checks every table on load and raises
  :class:`~beancount_ponto.errors.ConfigError` with one line naming the rule
  (``rules[3]``, numbered from 1 in file order, with its account and match)
  and the problem: an unknown key (with the closest valid key), a wrong type,
  a bad regular expression, an invalid account, a bad tag, flag, sign or amount
  range.
* :func:`first_match` returns the first rule, in file order, that matches.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal, cast

from beancount_ponto.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = ["BankFields", "Rule", "Sign", "first_match", "normalise_iban", "parse_rules"]

Sign = Literal["debit", "credit"]

#: A Beancount tag or link name, as the lexer accepts it.
_TAG_RE = re.compile(r"[A-Za-z0-9\-_/.]+")

_MATCH_KEYS = ("counterpart_iban", "match", "sign", "min_amount", "max_amount", "linked_account")
_ACTION_KEYS = ("payee", "narration", "tags", "flag")
KNOWN_KEYS = ("account", *_MATCH_KEYS, *_ACTION_KEYS)


@dataclass(frozen=True)
class BankFields:
    """What the bank says about one transaction, as rules and the predictor see it.

    Attributes:
        linked_account: the ledger account of the bank account, e.g. ``Assets:Bank:Checking``.
        amount: the signed amount; negative is money out (a debit).
        currency: the ISO currency code.
        counterpart_name: the name of the other party, if the bank gave one.
        counterpart_iban: the other party's IBAN (or other reference), if any.
        communication: the remittance information (the "communication").
        description: the bank's own description of the transaction.
    """

    linked_account: str
    amount: Decimal
    currency: str
    counterpart_name: str | None = None
    counterpart_iban: str | None = None
    communication: str | None = None
    description: str | None = None

    @property
    def sign(self) -> Sign:
        """``"credit"`` for money in (amount > 0), ``"debit"`` otherwise."""
        return "credit" if self.amount > 0 else "debit"


@dataclass(frozen=True)
class Rule:
    """One validated ``[[rules]]`` table.

    Attributes:
        number: the position of the table in ponto.toml, from 1.
        account: the account the other leg is booked to.
        counterpart_iban: the IBAN to match, without spaces, upper case.
        match: the compiled pattern (case-insensitive), searched in name,
            communication and description.
        sign: only debits or only credits, if set.
        min_amount: the smallest absolute amount that matches, if set.
        max_amount: the largest absolute amount that matches, if set.
        linked_account: only transactions of this linked ledger account, if set.
        payee: the payee to write instead of the bank's, if set.
        narration: the narration to write instead of the bank's, if set.
        tags: tags to add.
        flag: the flag to set (``"*"`` or ``"!"``), if set.
    """

    number: int
    account: str
    counterpart_iban: str | None = None
    match: re.Pattern[str] | None = None
    sign: Sign | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    linked_account: str | None = None
    payee: str | None = None
    narration: str | None = None
    tags: frozenset[str] = frozenset()
    flag: Literal["*", "!"] | None = None

    def matches(self, fields: BankFields) -> bool:
        """Whether every condition of this rule holds for ``fields``."""
        if self.linked_account is not None and fields.linked_account != self.linked_account:
            return False
        if self.sign is not None and fields.sign != self.sign:
            return False
        size = abs(fields.amount)
        if self.min_amount is not None and size < self.min_amount:
            return False
        if self.max_amount is not None and size > self.max_amount:
            return False
        if self.counterpart_iban is not None and (
            normalise_iban(fields.counterpart_iban) != self.counterpart_iban
        ):
            return False
        if self.match is not None:
            texts = (fields.counterpart_name, fields.communication, fields.description)
            if not any(text and self.match.search(text) for text in texts):
                return False
        return True


def normalise_iban(iban: str | None) -> str | None:
    """The IBAN without whitespace, upper case; None for None or blank."""
    if iban is None:
        return None
    return "".join(iban.split()).upper() or None


def first_match(rules: Iterable[Rule], fields: BankFields) -> Rule | None:
    """The first rule (in file order) that matches ``fields``, or None."""
    for rule in rules:
        if rule.matches(fields):
            return rule
    return None


class _Table:
    """One raw table being checked, with the name used in error messages."""

    def __init__(self, number: int, raw: object) -> None:
        self.number = number
        self.raw: dict[str, object] = {}
        if isinstance(raw, dict):
            self.raw = cast("dict[str, object]", raw)
        account, match = self.raw.get("account"), self.raw.get("match")
        details = [f"account {account}" if isinstance(account, str) else None]
        details.append(f"match {match!r}" if isinstance(match, str) else None)
        shown = ", ".join(d for d in details if d)
        self.name = f"rules[{number}] ({shown})" if shown else f"rules[{number}]"

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"ponto.toml {self.name}: {problem}")

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key} must be a non-empty string, not {value!r}")
        return value

    def amount(self, key: str) -> Decimal | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(f"{key} must be a number like 12.50, not {value!r}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number < 0:
            raise self.fail(f"{key} must be a number >= 0 (an absolute amount), not {value!r}")
        return number


def _check_keys(table: _Table) -> None:
    for key in table.raw:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            valid = ", ".join(KNOWN_KEYS)
            hint = f"; did you mean {close[0]!r}?" if close else f" (valid keys: {valid})"
            raise table.fail(f"unknown key {key!r}{hint}")


def _account(table: _Table, key: str, is_valid_account: Callable[[str], bool]) -> str | None:
    name = table.text(key)
    if name is None:
        return None
    try:
        valid = is_valid_account(name)
    except ConfigError:
        valid = False
    if not valid:
        raise table.fail(f"{key} {name!r} is not a valid Beancount account (like Expenses:Rent)")
    return name


def _pattern(table: _Table) -> re.Pattern[str] | None:
    source = table.text("match")
    if source is None:
        return None
    try:
        return re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise table.fail(f"match is not a valid regular expression: {exc}") from None


def _tags(table: _Table) -> frozenset[str]:
    value = table.raw.get("tags")
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise table.fail(f'tags must be a list of strings like ["rent"], not {value!r}')
    tags = [t.removeprefix("#") for t in cast("list[str]", value)]
    for tag in tags:
        if not _TAG_RE.fullmatch(tag):
            raise table.fail(f"tag {tag!r} is not a Beancount tag (letters, digits, - _ / .)")
    return frozenset(tags)


def _parse_one(table: _Table, is_valid_account: Callable[[str], bool]) -> Rule:
    _check_keys(table)
    account = _account(table, "account", is_valid_account)
    if account is None:
        raise table.fail('account is required (the account to book to, like "Expenses:Rent")')
    iban = normalise_iban(table.text("counterpart_iban"))
    pattern = _pattern(table)
    if iban is None and pattern is None:
        raise table.fail("give counterpart_iban or match (or both) to say which transactions")
    sign = table.text("sign")
    if sign not in (None, "debit", "credit"):
        raise table.fail(f'sign must be "debit" or "credit", not {sign!r}')
    low, high = table.amount("min_amount"), table.amount("max_amount")
    if low is not None and high is not None and low > high:
        raise table.fail(f"min_amount {low} is greater than max_amount {high}")
    flag = table.text("flag")
    if flag not in (None, "*", "!"):
        raise table.fail(f'flag must be "*" or "!", not {flag!r}')
    return Rule(
        number=table.number,
        account=account,
        counterpart_iban=iban,
        match=pattern,
        sign=cast("Sign | None", sign),
        min_amount=low,
        max_amount=high,
        linked_account=_account(table, "linked_account", is_valid_account),
        payee=table.text("payee"),
        narration=table.text("narration"),
        tags=_tags(table),
        flag=cast("Literal['*', '!'] | None", flag),
    )


def parse_rules(
    raw: Sequence[dict[str, object]] | object, *, is_valid_account: Callable[[str], bool]
) -> list[Rule]:
    """Validate the ``[[rules]]`` tables of ponto.toml.

    Args:
        raw: the parsed TOML value of ``rules`` (a list of tables); None means no rules.
        is_valid_account: tells whether an account name is acceptable (it may
            return False or raise ConfigError).

    Returns:
        The rules in file order, numbered from 1.

    Raises:
        ConfigError: one line naming the first bad rule and its problem.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("ponto.toml: rules must be an array of tables ([[rules]])")
    rules: list[Rule] = []
    for number, item in enumerate(cast("list[object]", raw), start=1):
        table = _Table(number, item)
        if not isinstance(item, dict):
            raise table.fail(f"must be a table ([[rules]]), not {item!r}")
        rules.append(_parse_one(table, is_valid_account))
    return rules
