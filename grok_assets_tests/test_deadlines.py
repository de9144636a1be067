"""The freshness rules: which trading day must be in S3 at a given Tokyo instant."""

from __future__ import annotations

import datetime as dt

import pytest

from grok_assets.deadlines import archive_due, selection_deadline, selection_due
from grok_assets.trading_calendar import TOKYO_TZ


def tokyo(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TOKYO_TZ)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("2026-11-30 16:59", "2026-11-27"),  # Monday before 17:00: Friday's
        ("2026-11-30 17:00", "2026-11-30"),  # the deadline itself
        ("2026-11-30 23:59", "2026-11-30"),
        ("2026-11-28 12:00", "2026-11-27"),  # Saturday: still Friday's
        ("2026-11-23 18:00", "2026-11-20"),  # holiday Monday: Friday's
        ("2026-11-24 17:01", "2026-11-24"),
        ("2026-05-06 17:01", "2026-05-01"),  # the last day of Golden Week
    ],
)
def test_the_archive_is_due_by_17_on_the_day(now: str, due: str) -> None:
    assert archive_due(tokyo(now)).isoformat() == due


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("2026-11-29 23:29", "2026-11-27"),  # Sunday before 23:30: Friday's still stands
        ("2026-11-29 23:30", "2026-11-30"),  # Monday's, by Sunday 23:30
        ("2026-11-30 09:00", "2026-11-30"),
        ("2026-11-30 23:31", "2026-12-01"),
        ("2026-11-27 23:31", "2026-11-27"),  # Friday night: Monday's eve is Sunday
        ("2026-11-22 23:31", "2026-11-20"),  # Monday 11-23 is a holiday
        ("2026-11-23 23:31", "2026-11-24"),  # the holiday evening before Tuesday
    ],
)
def test_the_selection_is_due_by_2330_on_its_eve(now: str, due: str) -> None:
    assert selection_due(tokyo(now)).isoformat() == due


def test_deadlines_are_tokyo_instants() -> None:
    # 23:30 Tokyo on Sunday is 14:30 UTC: the same instant judged in UTC agrees.
    utc = dt.datetime(2026, 11, 29, 14, 30, tzinfo=dt.UTC)
    assert selection_due(utc) == dt.date(2026, 11, 30)
    assert selection_deadline(dt.date(2026, 11, 30)) == tokyo("2026-11-29 23:30")
    with pytest.raises(ValueError, match="no timezone"):
        archive_due(dt.datetime(2026, 11, 30, 17, 0))
