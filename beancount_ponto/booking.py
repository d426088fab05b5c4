"""Decide the other leg of one bank transaction: transfer, rule, learned guess or placeholder.

Contract (pure: no I/O, no clock):

* A transfer between own accounts comes first (``transfer``, decided by
  :func:`beancount_ponto.transfers.transfer_leg`): booked on that account with
  the usual flag (no review), before any rule or guess, as it is a fact.
* :func:`book` then tries the rules, in file order: the first that matches
  wins and its actions apply (payee, narration, tags, flag; the flag stays
  ``None``, meaning "the usual", unless the rule sets one).
* Otherwise it asks the model; a guess at or above the threshold is booked
  with the review flag (``!`` by default) and a one-line note saying where it
  came from (``learned 0.93 from 14 similar``), for the ``ponto_guess``
  metadata key (:data:`~beancount_ponto.learn_cache.GUESS_META_KEY`).
* Otherwise the placeholder by sign: credits (amount > 0) go to
  ``income_account``, debits to ``counter_account``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from beancount_ponto.learn import DEFAULT_THRESHOLD
from beancount_ponto.rules import first_match

if TYPE_CHECKING:
    from collections.abc import Sequence

    from beancount_ponto.learn import Model
    from beancount_ponto.rules import BankFields, Rule

__all__ = ["Booking", "Source", "book"]

Source = Literal["transfer", "rule", "learned", "placeholder"]


@dataclass(frozen=True)
class Booking:
    """How to book the other leg.

    Attributes:
        account: the account of the other leg.
        flag: the flag to write, or None for the configured default.
        payee: a payee replacing the bank's, or None to keep it.
        narration: a narration replacing the bank's, or None to keep it.
        tags: tags to add.
        source: what decided: a transfer, a rule, a learned guess or the placeholder.
        note: a short line for the metadata (``rule 3``, ``learned 0.93 from
            14 similar``, ``transfer``), or None for the placeholder.
    """

    account: str
    flag: Literal["*", "!"] | None
    payee: str | None
    narration: str | None
    tags: frozenset[str]
    source: Source
    note: str | None


def book(
    fields: BankFields,
    rules: Sequence[Rule],
    model: Model | None,
    *,
    counter_account: str = "Expenses:Uncategorized",
    income_account: str = "Income:Uncategorized",
    review_flag: Literal["*", "!"] = "!",
    threshold: float = DEFAULT_THRESHOLD,
    transfer: str | None = None,
) -> Booking:
    """Book the other leg of ``fields`` (see module doc).

    Args:
        fields: what the bank says about the transaction.
        rules: the validated rules, in file order.
        model: the predictor trained on the linked account's history, or None.
        counter_account: the placeholder for debits.
        income_account: the placeholder for credits.
        review_flag: the flag of a learned guess.
        threshold: the smallest confidence for a learned guess.
        transfer: the other leg when the transaction is a transfer between own
            accounts, else None.

    Returns:
        The booking.
    """
    if transfer is not None:
        return Booking(transfer, None, None, None, frozenset(), "transfer", "transfer")
    rule = first_match(rules, fields)
    if rule is not None:
        return Booking(
            rule.account, rule.flag, rule.payee, rule.narration, rule.tags, "rule",
            f"rule {rule.number}",
        )  # fmt: skip
    guess = model.predict(fields, threshold=threshold) if model is not None else None
    if guess is not None:
        return Booking(guess.account, review_flag, None, None, frozenset(), "learned", guess.note)
    placeholder = income_account if fields.amount > 0 else counter_account
    return Booking(placeholder, None, None, None, frozenset(), "placeholder", None)
