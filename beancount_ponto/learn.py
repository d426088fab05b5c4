"""Predict the other leg of a bank transaction from how the user booked earlier ones.

Contract (pure: no I/O, no clock; deterministic for the same examples):

* :func:`features_of` turns what the bank says (:class:`~beancount_ponto.rules.BankFields`)
  into a few string features: the counterpart IBAN (``i:``; also joined with
  the sign, ``is:``), the words of the counterpart name, the communication and
  the description (``w:``, one namespace, because card payments often carry
  the merchant only in the communication) and the exact signed amount
  (``a:``, which alone never makes a guess). Words are normalised against
  bank noise: case and accents are folded; masked card numbers
  (``XXXX1234``, ``****``, ``04XX``), dates, times, shop numbers and
  references (anything with digits) are dropped and digits glued to letters
  are stripped; a few filler words go. Noise that survives (town names,
  "payment" words) is tamed by the weighting below.
* :class:`Model` counts, per feature, on which accounts the examples with
  that feature were booked, each example weighted by its recency (half-life
  ``half_life_days`` before the newest example). A prediction is a vote: each
  known feature of the new transaction votes for the accounts it was seen
  with, in proportion to how often, weighted by the kind of feature (an IBAN
  counts most) and by how telling the feature is (1 minus the normalised
  entropy of its accounts, so a town seen with ten accounts barely counts).
  The confidence is the winner's share of the vote, damped when little
  evidence is known. :meth:`Model.predict` returns None when the confidence
  is below the threshold or nothing is known: the caller keeps a placeholder.
* Training on 30,000 examples takes well under a second; a prediction a few
  microseconds per feature.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from beancount_ponto.rules import normalise_iban

if TYPE_CHECKING:
    from collections.abc import Iterable

    from beancount_ponto.rules import BankFields

__all__ = ["DEFAULT_THRESHOLD", "Example", "Model", "Prediction", "features_of", "words"]

#: The confidence below which a guess is not made.
DEFAULT_THRESHOLD = 0.35

#: How much one feature of each kind counts in the vote.
KIND_WEIGHTS = {"i": 3.0, "is": 1.0, "w": 1.0, "a": 0.7}

#: Filler words of the languages Belgian banks write in.
_STOP = frozenset(
    ("de", "het", "een", "van", "en", "le", "la", "les", "du", "des", "et", "un", "une", "the",
     "of", "to", "met", "par", "avec", "with", "voor", "pour", "nr", "no", "op", "au", "aux", "in")
)  # fmt: skip
_TOKEN_RE = re.compile(r"[a-z0-9*]+")
_MASK_RE = re.compile(r"[0-9x*]*[x*][0-9x*]*")
_DROP_DIGITS = str.maketrans("", "", "0123456789*")


def _fold(text: str) -> str:
    folded = text.casefold()
    if folded.isascii():
        return folded
    folded = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in folded if not unicodedata.combining(c))


def words(text: str | None) -> list[str]:
    """The normalised words of a bank text, in order, noise removed (see module doc)."""
    if not text:
        return []
    result: list[str] = []
    for token in _TOKEN_RE.findall(_fold(text)):
        masked = ("x" in token or "*" in token) and _MASK_RE.fullmatch(token)
        if masked and (len(token) >= 3 or "*" in token):
            continue  # a masked card number or a run of XXXX
        word = token.translate(_DROP_DIGITS)
        if len(word) >= 2 and word not in _STOP:
            result.append(word)
    return result


def features_of(fields: BankFields) -> tuple[str, ...]:
    """The features of one transaction, each once, in a fixed order."""
    found: dict[str, None] = {}
    iban = normalise_iban(fields.counterpart_iban)
    if iban:
        found[f"i:{iban}"] = None
        found[f"is:{iban}:{fields.sign}"] = None
    for text in (fields.counterpart_name, fields.communication, fields.description):
        for word in words(text):
            found[f"w:{word}"] = None
    found[f"a:{fields.amount.normalize():f}"] = None
    return tuple(found)


@dataclass(frozen=True)
class Example:
    """One booked transaction to learn from.

    Attributes:
        day: the entry's date as a proleptic ordinal (``date.toordinal()``).
        label: the account the user booked the other leg to.
        features: what :func:`features_of` gave for the bank's fields.
    """

    day: int
    label: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class Prediction:
    """A learned guess.

    Attributes:
        account: the predicted account of the other leg.
        confidence: the winner's share of the vote, 0..1.
        support: how many earlier entries booked to ``account`` share the
            guess's strongest feature.
    """

    account: str
    confidence: float
    support: int

    @property
    def note(self) -> str:
        """A short line saying where the guess came from, for the entry's metadata."""
        return f"learned {self.confidence:.2f} from {self.support} similar"


class Model:
    """Feature counts per account, trained once from examples (see module doc).

    Args:
        examples: the booked transactions to learn from, in any order.
        half_life_days: an example this many days older than the newest one counts half.
    """

    def __init__(self, examples: Iterable[Example], *, half_life_days: float = 365.0) -> None:
        rows = list(examples)
        newest = max((e.day for e in rows), default=0)
        decay = math.log(2) / half_life_days if half_life_days > 0 else 0.0
        weights: dict[tuple[str, tuple[str, ...]], float] = defaultdict(float)
        counts: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        for example in rows:  # examples often share their features: count each group once
            key = (example.label, example.features)
            weights[key] += math.exp(-decay * (newest - example.day))
            counts[key] += 1
        pairs: dict[tuple[str, str], list[float]] = {}
        for key, weight in weights.items():
            label, count = key[0], counts[key]
            for feature in key[1]:
                pair = pairs.get((feature, label))
                if pair is None:
                    pairs[(feature, label)] = [weight, count]
                else:
                    pair[0] += weight
                    pair[1] += count
        weighted: dict[str, dict[str, list[float]]] = defaultdict(dict)
        for (feature, label), pair in pairs.items():
            weighted[feature][label] = pair
        labels = {e.label for e in rows}
        self.size = len(rows)
        self.labels = frozenset(labels)
        scale = math.log(max(len(labels), 2))
        self._votes: dict[str, list[tuple[str, float, int]]] = {}
        self._weights: dict[str, float] = {}
        for feature, per_label in weighted.items():
            total = sum(w for w, _ in per_label.values())
            entropy = -sum(w / total * math.log(w / total) for w, _ in per_label.values() if w > 0)
            kind = feature.split(":", 1)[0]
            self._weights[feature] = KIND_WEIGHTS.get(kind, 1.0) * max(0.0, 1.0 - entropy / scale)
            # One smoothing count keeps a feature seen once from voting with certainty.
            self._votes[feature] = [
                (label, w / (total + 0.5), int(n)) for label, (w, n) in per_label.items()
            ]

    def predict(
        self, fields: BankFields, *, threshold: float = DEFAULT_THRESHOLD
    ) -> Prediction | None:
        """Guess the other leg of ``fields``.

        Args:
            fields: what the bank says about the new transaction.
            threshold: the smallest confidence (0..1) that makes a guess.

        Returns:
            The guess, or None when unsure or when nothing about it is known.
        """
        return self.predict_features(features_of(fields), threshold=threshold)

    def predict_features(
        self, features: Iterable[str], *, threshold: float = DEFAULT_THRESHOLD
    ) -> Prediction | None:
        """Like :meth:`predict`, for features already computed with :func:`features_of`."""
        scores: dict[str, float] = defaultdict(float)
        best_share: dict[str, tuple[float, int]] = {}
        evidence = 0.0
        identified = False
        for feature in features:
            votes = self._votes.get(feature)
            if votes is None:
                continue
            weight = self._weights[feature]
            evidence += weight
            identified = identified or not feature.startswith("a:")
            for label, share, count in votes:
                vote = weight * share
                scores[label] += vote
                if vote > best_share.get(label, (0.0, 0))[0]:
                    best_share[label] = (vote, count)
        if not identified or evidence <= 0:
            return None  # nothing known about who or what, at most the amount
        account = max(scores, key=lambda label: (scores[label], label))
        # Little known evidence (one weak word) cannot give high confidence.
        confidence = scores[account] / max(evidence, 1.0)
        if confidence < threshold:
            return None
        return Prediction(account, round(confidence, 4), best_share[account][1])
