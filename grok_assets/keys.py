"""Object keys under the bucket prefix: the layout consumers already depend on."""

from __future__ import annotations

import datetime as dt

PUBLISHED_SELECTION = "grok_trending.parquet"
ARCHIVE = "backtest/grok_trending_archive.parquet"
MANIFEST = "manifest.json"
PRICES_DAILY = "prices_max_1d.parquet"
PRICES_5M = "prices_60d_5m.parquet"
CANDIDATES_DIR = "grok/candidates/"
DAILY_BACKUP_DIR = "backtest/"
REPLAY_DIR = "grok/replay/"


def _compact(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def candidates_key(day: dt.date) -> str:
    return f"{CANDIDATES_DIR}grok_candidates_{_compact(day)}.parquet"


def daily_backup_key(day: dt.date) -> str:
    return f"{DAILY_BACKUP_DIR}grok_trending_{_compact(day)}.parquet"


def replay_answer_key(day: dt.date) -> str:
    return f"{REPLAY_DIR}{_compact(day)}.json"
