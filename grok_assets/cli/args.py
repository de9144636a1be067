"""What every command shares: exit codes and the argument types that name bad input."""

from __future__ import annotations

import argparse
import datetime as dt

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_ERROR = 2


def date_argument(text: str) -> dt.date:
    from grok_assets.trading_calendar import parse_date

    try:
        return parse_date(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_int(text: str) -> int:
    """A count (days, a port): a whole number of at least 1. argparse names the option
    in front of the message."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def generation_id_argument(text: str) -> str:
    from grok_assets.backup.generations import parse_generation_id

    try:
        return parse_generation_id(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
