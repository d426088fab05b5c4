"""consent.py's pure functions: each state from its inputs, the warning-days boundary."""

from __future__ import annotations

import datetime as dt

import pytest

from beancount_ponto.consent import (
    ConsentRefusal,
    consent_status,
    current_refusal,
    refusal_from_error,
)
from beancount_ponto.errors import ConsentExpiredError

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
REFUSAL = ConsentRefusal("authorizationInvalid", "revoked at the bank", NOW, "answer")


def test_no_expiry_is_unknown_and_a_refusal_is_revoked() -> None:
    assert consent_status(None, NOW).state == "unknown"
    revoked = consent_status(None, NOW, refusal=REFUSAL)
    assert (revoked.state, revoked.days_left, revoked.needs_attention) == ("revoked", None, True)
    far = consent_status(NOW + 80 * DAY, NOW, refusal=REFUSAL)
    assert (far.state, far.days_left) == ("revoked", 80)  # a refusal wins over a far expiry
    assert "REVOKED" in far.describe()


def test_far_expiry_is_ok() -> None:
    status = consent_status(NOW + 80 * DAY, NOW)
    assert (status.state, status.days_left, status.needs_attention) == ("ok", 80, False)


@pytest.mark.parametrize(
    ("left", "state", "days"),
    [
        (30 * DAY + dt.timedelta(seconds=1), "expiring", 30),  # 30 days and a second: still 30
        (30 * DAY, "expiring", 30),
        (31 * DAY, "ok", 31),
        (31 * DAY - dt.timedelta(seconds=1), "expiring", 30),
        (dt.timedelta(seconds=1), "expiring", 0),
        (dt.timedelta(0), "expected_passed", 0),
        (-2 * DAY, "expected_passed", -2),
    ],
)
def test_the_warning_days_boundary(left: dt.timedelta, state: str, days: int) -> None:
    status = consent_status(NOW + left, NOW, warning_days=30)
    assert (status.state, status.days_left) == (state, days)


def test_zero_warning_days_warn_only_on_the_last_day() -> None:
    assert consent_status(NOW + DAY, NOW, warning_days=0).state == "ok"
    assert consent_status(NOW + DAY / 2, NOW, warning_days=0).state == "expiring"


def test_an_expected_passed_consent_says_how_to_fix_it() -> None:
    status = consent_status(NOW - DAY, NOW)
    assert status.needs_attention
    assert "reauthorize" in status.describe()


def test_a_refusal_survives_its_json_form() -> None:
    assert ConsentRefusal.from_json(REFUSAL.to_json()) == REFUSAL
    assert ConsentRefusal.from_json({"detail": "no code"}) is None
    assert ConsentRefusal.from_json("authorizationInvalid") is None
    odd = ConsentRefusal.from_json({"code": "x", "source": "elsewhere"})
    assert odd == ConsentRefusal("x", None, None, "synchronization")


def test_without_live_data_the_remembered_refusal_stands() -> None:
    assert current_refusal(None, REFUSAL) is REFUSAL
    assert current_refusal(None, None) is None


def test_a_refused_answer_becomes_a_refusal_seen_now() -> None:
    refusal = refusal_from_error(ConsentExpiredError(403, detail="gone"), NOW)
    assert refusal == ConsentRefusal("authorizationInvalid", "gone", NOW, "answer")
