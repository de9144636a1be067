"""``grok-assets restore``: rebuild a missing daily backup from the archive's rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow.compute as pc

from grok_assets import keys
from grok_assets.archive import DATE_COLUMN
from grok_assets.schemas import BACKTEST_SCHEMA
from grok_assets.storage import PreconditionFailedError, S3Store


class RestoreRefusedError(RuntimeError):
    """The archive cannot vouch for the rows, so nothing was written."""


@dataclass(frozen=True)
class RestoreOutcome:
    key: str
    rows: int
    written: bool


def restore_daily_backup(store: S3Store, day: dt.date) -> RestoreOutcome:
    date = day.isoformat()
    key = keys.daily_backup_key(day)
    existing = store.parquet_file(key)
    if existing is not None:
        return RestoreOutcome(key=key, rows=existing.metadata.num_rows, written=False)
    rows = store.read_parquet_rows(
        keys.ARCHIVE, columns=BACKTEST_SCHEMA.names, filters=[(DATE_COLUMN, "==", date)]
    )
    if rows is None:
        raise RestoreRefusedError(
            f"{store.uri(keys.ARCHIVE)} does not exist; there is nothing to restore {key} from"
        )
    rows = rows.filter(pc.equal(rows.column(DATE_COLUMN), date))
    if rows.num_rows == 0:
        raise RestoreRefusedError(
            f"{store.uri(keys.ARCHIVE)} holds no rows for {date}; refusing to write an empty "
            f"{key}. Re-run backtest_job for {date} instead"
        )
    table = rows.cast(BACKTEST_SCHEMA).sort_by([("grok_rank", "ascending")])
    try:
        # Write-once: a backup that appeared meanwhile is the real one; keep it.
        store.write_parquet(key, table, if_none_match=True)
    except PreconditionFailedError:
        return RestoreOutcome(key=key, rows=table.num_rows, written=False)
    return RestoreOutcome(key=key, rows=table.num_rows, written=True)
