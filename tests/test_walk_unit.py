"""walk.py's stop rule as a pure function: :class:`_Floor` over dates and creation times."""

from __future__ import annotations

import datetime as dt

from beancount_ponto.walk import _Floor

WEEK = dt.timedelta(days=7)
D = dt.date(2025, 3, 10)
T = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)


def floor(*, today: dt.date | None = None, start: dt.date | None = None, days: int = 7) -> _Floor:
    return _Floor(overlap=dt.timedelta(days=days), today=today, start_date=start)


def test_nothing_known_and_no_start_date_never_stops() -> None:
    assert not floor().reached(dt.date(1, 1, 1), None)
    assert not floor().reached(dt.date(1, 1, 1), dt.datetime(1, 1, 1, tzinfo=dt.UTC))


def test_a_page_more_than_the_overlap_below_the_newest_day_stops() -> None:
    f = floor()
    f.know(D, None)
    assert not f.reached(D - WEEK, None)  # exactly the overlap: not yet
    assert f.reached(D - WEEK - dt.timedelta(days=1), None)


def test_know_keeps_the_newest_day_and_creation() -> None:
    f = floor()
    f.know(D, T)
    f.know(D - dt.timedelta(days=30), T - dt.timedelta(days=30))
    assert (f.newest_day, f.newest_created) == (D, T)
    f.know(D, None)
    assert f.newest_created == T


def test_a_future_dated_known_transaction_counts_as_today() -> None:
    f = floor(today=D)
    f.know(D + dt.timedelta(days=365), None)
    assert f.newest_day == D
    assert not f.reached(D - WEEK, None)  # measured from today, not from next year
    assert f.reached(D - WEEK - dt.timedelta(days=1), None)


def test_start_date_stops_a_first_walk_once_passed() -> None:
    f = floor(start=D)
    assert not f.reached(D, None)
    assert f.reached(D - dt.timedelta(days=1), None)


def test_the_creation_floor_must_be_passed_too() -> None:
    f = floor()
    f.know(D, T)
    old_day = D - dt.timedelta(days=30)
    assert not f.reached(old_day, T - dt.timedelta(days=1))  # created lately: a late delivery
    assert not f.reached(old_day, T - WEEK)  # exactly the overlap: not yet
    assert f.reached(old_day, T - WEEK - dt.timedelta(seconds=1))


def test_the_creation_floor_against_start_date_when_nothing_is_known() -> None:
    f = floor(start=D)
    start = dt.datetime.combine(D, dt.time(), dt.UTC)
    assert not f.reached(D - dt.timedelta(days=1), start - dt.timedelta(days=1))
    assert f.reached(D - dt.timedelta(days=1), start - WEEK - dt.timedelta(seconds=1))


def test_dates_near_year_one_do_not_overflow() -> None:
    f = floor()
    f.know(dt.date(1, 1, 3), dt.datetime(1, 1, 3, tzinfo=dt.UTC))
    assert not f.reached(dt.date(1, 1, 1), dt.datetime(1, 1, 1, tzinfo=dt.UTC))
