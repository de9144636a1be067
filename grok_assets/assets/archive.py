"""``grok_trending_archive[N]``: N's daily backup upserted into the long-history archive.

The upsert is a compare-and-swap on the archive's ETag: a concurrent writer makes
this one start over from the fresh archive instead of overwriting its rows. Before
the swap, the archive it replaces is kept as a generation (see
:mod:`grok_assets.generations`), so even a write that is wrong in a way the upsert
cannot see can be undone with ``grok-assets restore --archive-generation ID``.
"""

from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets import keys
from grok_assets.archive import (
    ArchiveIntegrityError,
    counts_if_unchanged,
    encode_archive,
    row_counts_by_date,
    upsert_date,
)
from grok_assets.generations import keep_generation, prune_generations
from grok_assets.partitions import partition_date, trading_day_partitions
from grok_assets.resources import StorageResource
from grok_assets.schemas import BACKTEST_SCHEMA, SchemaMismatchError
from grok_assets.storage import S3Store


def upsert_daily_into_archive(store: S3Store, date: str, daily_key: str) -> dict[str, int | bool]:
    """Replace ``date``'s archive rows with the daily backup's; returns what changed.

    Keeps no generation: the asset uses :func:`upsert_keeping_generation`.
    """
    outcome, _ = _upsert(store, date, daily_key, keep_generations=False)
    return outcome


def upsert_keeping_generation(
    store: S3Store, date: str, daily_key: str
) -> tuple[dict[str, int | bool], str | None]:
    """:func:`upsert_daily_into_archive`, keeping the archive it replaces as a generation
    first (and pruning old generations after); also returns that generation's ID (None
    when nothing was replaced)."""
    return _upsert(store, date, daily_key, keep_generations=True)


def _upsert(
    store: S3Store, date: str, daily_key: str, *, keep_generations: bool
) -> tuple[dict[str, int | bool], str | None]:
    rows = store.read_parquet(daily_key, BACKTEST_SCHEMA)
    outcome: dict[str, int | bool] = {"written": False}
    kept: list[str] = []

    def update(current: bytes | None) -> bytes | None:
        # Called again after a lost race: only the last call's decision counts.
        outcome["written"] = False
        unchanged = counts_if_unchanged(current, rows, date) if current is not None else None
        if unchanged is not None:
            # A re-run with identical rows, told from the date and rank columns and the
            # date's own row groups without decoding the rest of the history.
            outcome["archive_rows"] = sum(unchanged.values())
            outcome["dates"] = len(unchanged)
            return None
        # The archive's columns are checked here, naming the object, before the upsert
        # compares row counts: a file lacking backtest_date is refused, not rebuilt.
        try:
            archive = (
                store.decode_parquet(keys.ARCHIVE, current, BACKTEST_SCHEMA)
                if current is not None
                else None
            )
            merged = upsert_date(archive, rows, date)
        except SchemaMismatchError as error:
            raise ArchiveIntegrityError(f"{error}; the archive was left unchanged") from None
        except ArchiveIntegrityError as error:
            raise ArchiveIntegrityError(
                f"{store.uri(keys.ARCHIVE)} was left unchanged: {error}"
            ) from None
        outcome["archive_rows"] = merged.num_rows
        outcome["dates"] = len(row_counts_by_date(merged))
        if archive is not None and merged.equals(archive):
            return None
        if keep_generations and current is not None:
            # Kept before the swap, so that the bytes being replaced are in S3 under
            # another key by the time the archive key points at new ones.
            generation, _ = keep_generation(store, current)
            kept.append(generation.id)
        outcome["written"] = True
        # Each date in one row group, so the gate reads the footer and one column chunk.
        return encode_archive(merged)

    store.compare_and_swap(keys.ARCHIVE, update)
    outcome["rows_for_date"] = rows.num_rows
    if keep_generations and outcome["written"]:
        prune_generations(store)
    # The last attempt's generation is the archive the successful swap replaced.
    return outcome, (kept[-1] if kept and outcome["written"] else None)


@asset(
    key="grok_trending_archive",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    deps=[AssetDep("grok_trending_daily")],
    kinds={"s3", "parquet"},
    description="Long-history archive of every backtested day; upserts replace one date only.",
)
def grok_trending_archive(
    context: AssetExecutionContext, storage: StorageResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = storage.store()
    outcome, generation = upsert_keeping_generation(
        store, day.isoformat(), keys.daily_backup_key(day)
    )
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(keys.ARCHIVE)),
            "archive_rows": outcome["archive_rows"],
            "archive_dates": outcome["dates"],
            "rows_for_date": outcome["rows_for_date"],
            "written": outcome["written"],
            "previous_kept_as_generation": generation or "none",
        }
    )
