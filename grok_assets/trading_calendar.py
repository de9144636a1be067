"""JPX trading days, from the maintained XTKS exchange calendar.

Every question about "which day trades" goes through here, so that the partitions,
the schedules and the CLI can never disagree. Nothing is computed (or even imported)
until the first question: the code location's definitions load on every
``dagster`` command, and commands like ``grok-assets verify`` never need the calendar.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd

XTKS = "XTKS"
TOKYO = "Asia/Tokyo"
TOKYO_TZ = ZoneInfo(TOKYO)
# Old enough for every history the pipeline holds; partitions start here.
PARTITIONS_START = "2024-01-04"

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT_DATE = re.compile(r"^\d{8}$")


class CalendarHorizonError(ValueError):
    """A date lies past the last session the installed exchange calendar knows."""


class NotATradingDayError(ValueError):
    """A date that should be a JPX trading day is not one."""


@functools.lru_cache(maxsize=1)
def _session_index() -> pd.DatetimeIndex:
    """XTKS sessions over the range exchange_calendars itself covers by default (about
    20 years back to one year ahead), from XTKS's own holiday rules and ad-hoc closures.

    These are exactly the sessions of ``exchange_calendars.get_calendar("XTKS")``, which
    are its weekmask days minus those holidays. Building that calendar object costs
    0.1-0.3 s, mostly evaluating every holiday rule from 1970 to 2200 (pandas' default
    range) and open/close times nobody here reads, and the definitions pay it at every
    load; evaluating the rules over the covered range alone takes a tenth of that.
    """
    import pandas as pd
    from exchange_calendars.exchange_calendar_xtks import XTKSExchangeCalendar

    start, end = XTKSExchangeCalendar.default_start(), XTKSExchangeCalendar.default_end()
    try:
        # The rule properties read no calendar state, so no sessions need building.
        rules = object.__new__(XTKSExchangeCalendar)
        holidays = rules.regular_holidays.holidays(start, end).append(
            pd.DatetimeIndex(rules.adhoc_holidays)
        )
        return pd.bdate_range(start, end, freq="C", weekmask=rules.weekmask, holidays=holidays)
    except (AttributeError, TypeError):  # pragma: no cover - a future exchange_calendars
        import exchange_calendars

        return exchange_calendars.get_calendar(XTKS, start=start, end=end).sessions


@functools.lru_cache(maxsize=1)
def _sessions() -> frozenset[dt.date]:
    return frozenset(ts.date() for ts in _session_index())


def first_known_day() -> dt.date:
    return _session_index()[0].date()


def last_known_day() -> dt.date:
    """The last session the calendar knows; beyond it nothing can be said."""
    return _session_index()[-1].date()


def today_in_tokyo() -> dt.date:
    """The calendar day it is now in Tokyo, where every day of the cycle is counted."""
    return dt.datetime.now(TOKYO_TZ).date()


def days_until_horizon(today: dt.date) -> int:
    """Calendar days from ``today`` to the last session the installed calendar knows."""
    return (last_known_day() - today).days


def parse_date(text: str) -> dt.date:
    """Parse ``YYYY-MM-DD`` or ``YYYYMMDD`` strictly, naming the bad input on failure."""
    candidate = text.strip()
    if _COMPACT_DATE.match(candidate):
        candidate = f"{candidate[:4]}-{candidate[4:6]}-{candidate[6:]}"
    if not ISO_DATE.match(candidate):
        raise ValueError(f"{text!r} is not a date; expected YYYY-MM-DD or YYYYMMDD")
    try:
        return dt.date.fromisoformat(candidate)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real calendar date ({exc})") from exc


def _require_known(day: dt.date) -> None:
    if day > last_known_day():
        raise CalendarHorizonError(
            f"{day.isoformat()} is after {last_known_day().isoformat()}, the last JPX session "
            "the installed exchange_calendars knows; upgrade exchange_calendars"
        )
    if day < first_known_day():
        raise CalendarHorizonError(
            f"{day.isoformat()} is before {first_known_day().isoformat()}, the first JPX "
            "session the installed exchange_calendars knows"
        )


def is_trading_day(day: dt.date) -> bool:
    _require_known(day)
    return day in _sessions()


def require_trading_day(day: dt.date) -> dt.date:
    if not is_trading_day(day):
        raise NotATradingDayError(f"{day.isoformat()} is not a JPX trading day")
    return day


def next_trading_day(day: dt.date) -> dt.date:
    """The first trading day strictly after ``day``."""
    candidate = day + dt.timedelta(days=1)
    while not is_trading_day(candidate):
        candidate += dt.timedelta(days=1)
    return candidate


def previous_trading_day(day: dt.date) -> dt.date:
    """The last trading day strictly before ``day``."""
    candidate = day - dt.timedelta(days=1)
    while not is_trading_day(candidate):
        candidate -= dt.timedelta(days=1)
    return candidate


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days in ``[start, end]``, in order."""
    _require_known(start)
    _require_known(end)
    return sorted(day for day in _sessions() if start <= day <= end)


def weekday_closures(start: dt.date, end: dt.date) -> list[dt.date]:
    """Monday-to-Friday days on which the exchange is closed, in ``[start, end]``."""
    # Past the horizon every weekday would look closed; refuse instead.
    _require_known(start)
    _require_known(end)
    sessions = _sessions()
    days = (start + dt.timedelta(days=offset) for offset in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5 and day not in sessions]
