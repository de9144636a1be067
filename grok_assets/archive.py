"""The archive upsert: replace one date's rows, and prove no other date changed."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets.schemas import BACKTEST_SCHEMA

DATE_COLUMN = "backtest_date"


class ArchiveIntegrityError(ValueError):
    """An upsert would change rows it does not own; nothing is written."""


def row_counts_by_date(table: pa.Table) -> Counter[str]:
    return Counter(table.column(DATE_COLUMN).to_pylist())


def _conform(table: pa.Table, where: str) -> pa.Table:
    extra = [name for name in table.schema.names if name not in BACKTEST_SCHEMA.names]
    if extra:
        raise ArchiveIntegrityError(
            f"{where} has column(s) {', '.join(extra)} that the archive schema does not know; "
            "refusing to drop them"
        )
    names = table.schema.names
    missing = [name for name in BACKTEST_SCHEMA.names if name not in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if missing:
        raise ArchiveIntegrityError(f"{where} lacks column(s) {', '.join(missing)}")
    if repeated:
        raise ArchiveIntegrityError(f"{where} repeats column(s) {', '.join(repeated)}")
    # A cast would silently rewrite a wrong-typed column (a timestamp backtest_date
    # becomes "YYYY-MM-DD 00:00:00", which no consumer's string comparison matches).
    wrong = [
        f"{field.name} is {table.schema.field(field.name).type}, expected {field.type}"
        for field in BACKTEST_SCHEMA
        if not table.schema.field(field.name).type.equals(field.type)
    ]
    if wrong:
        raise ArchiveIntegrityError(f"{where} has column(s) of the wrong type: {'; '.join(wrong)}")
    try:
        return table.select(BACKTEST_SCHEMA.names).cast(BACKTEST_SCHEMA)
    except (KeyError, ValueError, pa.ArrowException) as error:
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
