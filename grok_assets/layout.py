"""Where everything lives in S3: every key pattern, relative to the bucket prefix.

The first names are the contract with the pipeline's existing consumers; they never
change. Glossary: asset key, what the domain calls it, its key under ``$S3_PREFIX``.

- ``grok_candidates``: Grok's answer for trading day N,
  ``grok/candidates/grok_candidates_YYYYMMDD.parquet`` (write-once)
- ``grok_trending_daily``: the daily backup, N's backtest,
  ``backtest/grok_trending_YYYYMMDD.parquet``
- ``grok_trending_archive``: the archive of every backtested day,
  ``backtest/grok_trending_archive.parquet``
- ``grok_trending``: the published selection, ``grok_trending.parquet``
- ``grok_manifest``: the manifest, ``manifest.json``
- ``prices_daily``, ``prices_5m``: price bars (external, read only),
  ``prices_max_1d.parquet``, ``prices_60d_5m.parquet``
- part of ``grok_candidates``: the evidence behind N's picks, the model's whole response
  with what was asked, its searches, citations and cost, ``grok/answers/YYYYMMDD.json``
  (write-once)
- no asset: a recorded answer for ``GROK_SELECTOR=replay``, ``grok/replay/YYYYMMDD.json``
- no asset: an archive generation (the archive before a write),
  ``backtest/archive_generations/grok_trending_archive_<id>.parquet``
- no asset: a conditional-write probe, alive for milliseconds, ``.probe/<uuid>``
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

PUBLISHED_SELECTION = "grok_trending.parquet"
ARCHIVE = "backtest/grok_trending_archive.parquet"
MANIFEST = "manifest.json"
PRICES_DAILY = "prices_max_1d.parquet"
PRICES_5M = "prices_60d_5m.parquet"
CANDIDATES_DIR = "grok/candidates/"
DAILY_BACKUP_DIR = "backtest/"
REPLAY_DIR = "grok/replay/"
ANSWERS_DIR = "grok/answers/"
GENERATIONS_DIR = "backtest/archive_generations/"
# Probe objects live here for milliseconds; never parquet, so never in the manifest.
PROBE_DIR = ".probe/"

FIXED_KEYS = frozenset({PUBLISHED_SELECTION, ARCHIVE, MANIFEST, PRICES_DAILY, PRICES_5M})

# The two kinds of dated file that retention may delete.
DAILY = "daily"
CANDIDATES = "candidates"

_COMPACT = "%Y%m%d"
_GENERATION_STEM = "grok_trending_archive_"
GENERATION_ID = re.compile(r"^(?P<stamp>\d{8}T\d{12}Z)_(?P<md5>[0-9a-f]{8})$")
_GENERATION_KEY = re.compile(
    rf"^{re.escape(GENERATIONS_DIR)}{_GENERATION_STEM}"
    rf"(?P<id>\d{{8}}T\d{{12}}Z_[0-9a-f]{{8}})\.parquet$"
)
_DATED_KEYS = {
    DAILY: re.compile(rf"^{re.escape(DAILY_BACKUP_DIR)}grok_trending_(\d{{8}})\.parquet$"),
    CANDIDATES: re.compile(rf"^{re.escape(CANDIDATES_DIR)}grok_candidates_(\d{{8}})\.parquet$"),
}
# Day-keyed JSON objects: never parquet, so never in the manifest.
_JSON_KEYS = (
    re.compile(rf"^{re.escape(REPLAY_DIR)}(\d{{8}})\.json$"),
    re.compile(rf"^{re.escape(ANSWERS_DIR)}(\d{{8}})\.json$"),
)


@dataclass(frozen=True)
class Location:
    """Where the pipeline's objects live: one bucket, one key prefix."""

    bucket: str
    prefix: str

    def key(self, relative: str) -> str:
        return self.prefix + relative

    def relative(self, key: str) -> str:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else key

    def uri(self, relative: str) -> str:
        return f"s3://{self.bucket}/{self.key(relative)}"


def compact(day: dt.date) -> str:
    """``YYYYMMDD``, as every dated key spells a day."""
    return day.strftime(_COMPACT)


def candidates_key(day: dt.date) -> str:
    return f"{CANDIDATES_DIR}grok_candidates_{compact(day)}.parquet"


def daily_backup_key(day: dt.date) -> str:
    return f"{DAILY_BACKUP_DIR}grok_trending_{compact(day)}.parquet"


def replay_answer_key(day: dt.date) -> str:
    return f"{REPLAY_DIR}{compact(day)}.json"


def answer_key(day: dt.date) -> str:
    """The evidence file of ``day``'s selection: the model's response as it came."""
    return f"{ANSWERS_DIR}{compact(day)}.json"


def generation_key(generation_id: str) -> str:
    """The key of an archive generation; the ID must already be validated."""
    return f"{GENERATIONS_DIR}{_GENERATION_STEM}{generation_id}.parquet"


def generation_id_of(relative_key: str) -> str | None:
    match = _GENERATION_KEY.match(relative_key)
    return match.group("id") if match else None


def _day(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, _COMPACT).date()
    except ValueError:
        return None


def parse_dated_key(relative_key: str) -> tuple[str, dt.date] | None:
    """``(kind, day)`` of a daily backup or candidates key; None for any other key."""
    for kind, pattern in _DATED_KEYS.items():
        match = pattern.match(relative_key)
        if match is not None:
            day = _day(match.group(1))
            return None if day is None else (kind, day)
    return None


def is_tracked(relative_key: str) -> bool:
    """Whether the manifest lists the object: every parquet file under the prefix."""
    return relative_key.endswith(".parquet")


def is_layout_key(relative_key: str) -> bool:
    """A key this layout defines (whether or not the manifest lists it)."""
    if relative_key in FIXED_KEYS or parse_dated_key(relative_key) is not None:
        return True
    # A probe a killed process left behind is ours too: the next probe deletes it.
    if generation_id_of(relative_key) is not None or relative_key.startswith(PROBE_DIR):
        return True
    for pattern in _JSON_KEYS:
        match = pattern.match(relative_key)
        if match is not None:
            return _day(match.group(1)) is not None
    return False
