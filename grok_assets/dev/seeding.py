"""``grok-assets seed-sample``: synthetic, labelled price bars and recorded answers.

Sample bars are written only over absent or sample objects: real price files in the
bucket are never replaced by synthetic ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from grok_assets import layout, trading_calendar
from grok_assets.dev.sample_data import (
    SAMPLE_METADATA_KEY,
    SAMPLE_UNIVERSE,
    sample_5m_bars,
    sample_answer,
    sample_daily_bars,
)
from grok_assets.storage import S3Store, StorageError, encode_parquet, parquet_file


@dataclass(frozen=True)
class SeedReport:
    days: list[dt.date]
    written: list[str]
    unchanged: list[str]


def _refuse_real_prices(store: S3Store, relative_key: str) -> None:
    parquet = parquet_file(store, relative_key)
    if parquet is None:
        return
    if SAMPLE_METADATA_KEY not in (parquet.schema_arrow.metadata or {}):
        raise StorageError(
            f"{store.uri(relative_key)} holds prices that are not sample data; refusing to "
            "replace them with synthetic bars (use another bucket or S3_PREFIX)",
            bucket=store.bucket,
            key=relative_key,
        )


def seed_sample(store: S3Store, start: dt.date, end: dt.date, seed: int = 0) -> SeedReport:
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    days = trading_calendar.trading_days(start, end)
    if not days:
        raise ValueError(f"no JPX trading day between {start} and {end}")
    written: list[str] = []
    unchanged: list[str] = []

    def put(relative_key: str, data: bytes) -> None:
        _, changed = store.put_if_changed(relative_key, data)
        (written if changed else unchanged).append(relative_key)

    bars: list[tuple[str, pa.Table]] = [
        (layout.PRICES_DAILY, sample_daily_bars(days, seed)),
        (layout.PRICES_5M, sample_5m_bars(days, seed)),
    ]
    # Check every prices object before writing any, so a refusal writes nothing.
    for relative_key, _ in bars:
        _refuse_real_prices(store, relative_key)
    for relative_key, table in bars:
        put(relative_key, encode_parquet(table))
    for day in days:
        answer = sample_answer(day.isoformat(), SAMPLE_UNIVERSE, seed)
        put(layout.replay_answer_key(day), answer.encode("utf-8"))
    return SeedReport(days=days, written=written, unchanged=unchanged)
