"""Early warning before the installed exchange calendar runs out of known sessions.

Past its last session the code refuses to guess (no partitions, clear errors), so an
operator must hear of the horizon well before it arrives.
"""

import datetime as dt

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from grok_assets import trading_calendar

HORIZON_WARNING_DAYS = 60


def horizon_result(today: dt.date) -> AssetCheckResult:
    remaining = trading_calendar.days_until_horizon(today)
    last = trading_calendar.last_known_day()
    passed = remaining >= HORIZON_WARNING_DAYS
    description = (
        f"the JPX calendar knows sessions until {last} ({remaining} days ahead)"
        if passed
        else f"the JPX calendar ends {last}, only {remaining} days ahead; upgrade "
        "exchange_calendars before then or selections will stop"
    )
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        description=description,
        metadata={"last_known_session": last.isoformat(), "days_ahead": remaining},
    )


@asset_check(
    asset="grok_candidates",
    description=f"Warns when the exchange calendar ends in under {HORIZON_WARNING_DAYS} days.",
)
def trading_calendar_horizon() -> AssetCheckResult:
    return horizon_result(trading_calendar.today_in_tokyo())
