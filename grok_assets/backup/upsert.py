"""N's daily backup upserted into the long-history archive, by compare-and-swap.

A concurrent writer makes this one start over from the fresh archive instead of
overwriting its rows. Before the swap, the archive it replaces is kept as a
generation (:mod:`.generations`), so even a write that is wrong in a way the upsert
cannot see can be undone with ``grok-assets restore --archive-generation ID``.
"""

from __future__ import annotations

from dataclasses import dataclass

from grok_assets import layout
from grok_assets.backup.archive import (
    ArchiveIntegrityError,
    as_archive_rows,
    counts_if_unchanged,
    encode_archive,
    row_counts_by_date,
    upsert_date,
)
from grok_assets.backup.generations import keep_generation, prune_generations
from grok_assets.storage import S3Store, compare_and_swap, decode_parquet, read_parquet


@dataclass(frozen=True)
class UpsertOutcome:
    written: bool
    archive_rows: int
    dates: int
    rows_for_date: int
    # The generation now holding the archive the swap replaced (None: nothing replaced).
    previous_generation: str | None


def upsert_daily_into_archive(
    store: S3Store, date: str, daily_key: str, *, keep_generations: bool = True
) -> UpsertOutcome:
    """Replace ``date``'s archive rows with the daily backup's.

    With ``keep_generations`` the archive being replaced is kept as a generation first
    and old generations are pruned after.
    """
    rows = read_parquet(store, daily_key)
    decided: dict[str, int | bool] = {}
    kept: list[str] = []

    def update(current: bytes | None) -> bytes | None:
        # Called again after a lost race: only the last call's decision counts.
        decided["written"] = False
        unchanged = counts_if_unchanged(current, rows, date) if current is not None else None
        if unchanged is not None:
            # A re-run with identical rows, told from the date and rank columns and the
            # date's own row groups without decoding the rest of the history.
            decided["archive_rows"] = sum(unchanged.values())
            decided["dates"] = len(unchanged)
            return None
        # A file lacking backtest_date, or with a column that cannot take the new rows
        # without changing a value, is refused, naming the object: never rebuilt.
        try:
            archive = (
                as_archive_rows(decode_parquet(store, layout.ARCHIVE, current), layout.ARCHIVE)
                if current is not None
                else None
            )
            merged = upsert_date(archive, rows, date, store.uri(daily_key))
        except ArchiveIntegrityError as error:
            raise ArchiveIntegrityError(
                f"{store.uri(layout.ARCHIVE)} was left unchanged: {error}"
            ) from None
        decided["archive_rows"] = merged.num_rows
        decided["dates"] = len(row_counts_by_date(merged))
        if archive is not None and merged.equals(archive):
            return None
        if keep_generations and current is not None:
            # Kept before the swap, so that the bytes being replaced are in S3 under
            # another key by the time the archive key points at new ones.
            generation, _ = keep_generation(store, current)
            kept.append(generation.id)
        decided["written"] = True
        # Each date in one row group, so the gate reads the footer and one column chunk.
        return encode_archive(merged)

    compare_and_swap(store, layout.ARCHIVE, update)
    written = bool(decided["written"])
    if keep_generations and written:
        prune_generations(store)
    return UpsertOutcome(
        written=written,
        archive_rows=int(decided["archive_rows"]),
        dates=int(decided["dates"]),
        rows_for_date=rows.num_rows,
        # The last attempt's generation is the archive the successful swap replaced.
        previous_generation=kept[-1] if kept and written else None,
    )
