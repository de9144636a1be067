"""The archive upsert: replace one date's rows, and prove no other date changed."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets.schemas import BACKTEST_SCHEMA, SchemaMismatchError, require_schema

DATE_COLUMN = "backtest_date"


class ArchiveIntegrityError(ValueError):
    """An upsert would change rows it does not own; nothing is written."""


def row_counts_by_date(table: pa.Table) -> Counter[str]:
    return Counter(table.column(DATE_COLUMN).to_pylist())


def _conform(table: pa.Table, where: str) -> pa.Table:
    try:
        # Extra columns are refused rather than dropped: dropping them would lose data.
        require_schema(table, BACKTEST_SCHEMA, where, allow_extra=False)
        return table.select(BACKTEST_SCHEMA.names).cast(BACKTEST_SCHEMA)
    except SchemaMismatchError as error:
        raise ArchiveIntegrityError(str(error)) from None
    except (ValueError, pa.ArrowException) as error:
        # ValueError: null values in a non-nullable column (e.g. backtest_date).
        raise ArchiveIntegrityError(f"{where} does not match the archive schema: {error}") from None


def upsert_date(archive: pa.Table | None, rows: pa.Table, backtest_date: str) -> pa.Table:
    """The archive with ``backtest_date``'s rows replaced by ``rows``, sorted by date.

    Sorting keeps each date in few row groups, so a reader answers "is date D in the
    archive" from the footer statistics and one column chunk.
    """
    rows = _conform(rows, "the new daily rows")
    dates = set(rows.column(DATE_COLUMN).to_pylist())
    if dates != {backtest_date}:
        raise ArchiveIntegrityError(
            f"rows to upsert for {backtest_date} carry backtest_date values {sorted(dates)}"
        )
    if archive is None:
        kept = rows.schema.empty_table()
        before: Counter[str] = Counter()
    else:
        archive = _conform(archive, "the archive")
        before = row_counts_by_date(archive)
        kept = archive.filter(pc.not_equal(archive.column(DATE_COLUMN), backtest_date))
    merged = pa.concat_tables([kept, rows]).sort_by(
        [(DATE_COLUMN, "ascending"), ("grok_rank", "ascending")]
    )
    after = row_counts_by_date(merged)
    changed = sorted(
        date
        for date in set(before) | set(after)
        if date != backtest_date and before[date] != after[date]
    )
    if changed:
        raise ArchiveIntegrityError(
            f"upserting {backtest_date} would change the row count of {', '.join(changed)}; "
            "refusing to write"
        )
    return merged
