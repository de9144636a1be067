"""``grok-assets restore``: rebuild a missing daily backup from the archive's rows, or
bring back an archive generation (``--archive-generation ID``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from grok_assets import layout
from grok_assets.backup.archive import DATE_COLUMN, ArchiveIntegrityError, as_archive_rows
from grok_assets.backup.coverage import read_date_rows
from grok_assets.backup.generations import (
    InvalidGenerationError,
    keep_generation,
    verify_generation,
)
from grok_assets.backup.manifest import refresh_manifest
from grok_assets.storage import (
    CorruptObjectError,
    PreconditionFailedError,
    S3Store,
    compare_and_swap,
    decode_parquet,
    md5_hex,
    parquet_file,
    write_parquet,
)


class RestoreRefusedError(RuntimeError):
    """The archive cannot vouch for the rows, so nothing was written."""


@dataclass(frozen=True)
class RestoreOutcome:
    key: str
    rows: int
    written: bool


def restore_daily_backup(store: S3Store, day: dt.date) -> RestoreOutcome:
    date = day.isoformat()
    key = layout.daily_backup_key(day)
    existing = parquet_file(store, key)
    if existing is not None:
        return RestoreOutcome(key=key, rows=existing.metadata.num_rows, written=False)
    rows = read_date_rows(store, date)
    if rows is None:
        raise RestoreRefusedError(
            f"{store.uri(layout.ARCHIVE)} does not exist; there is nothing to restore {key} from"
        )
    if rows.num_rows == 0:
        raise RestoreRefusedError(
            f"{store.uri(layout.ARCHIVE)} holds no rows for {date}; refusing to write an empty "
            f"{key}. Re-run backtest_job for {date} instead"
        )
    table = rows.sort_by([("grok_rank", "ascending")])
    try:
        # Write-once: a backup that appeared meanwhile is the real one; keep it.
        write_parquet(store, key, table, if_none_match=True)
    except PreconditionFailedError:
        return RestoreOutcome(key=key, rows=table.num_rows, written=False)
    return RestoreOutcome(key=key, rows=table.num_rows, written=True)


# -- archive generations -------------------------------------------------------------


@dataclass(frozen=True)
class GenerationRestoreOutcome:
    generation: str
    rows: int
    dates: int
    written: bool
    # The generation now holding the archive that was replaced (None if nothing was).
    previous_generation: str | None
    # Dates the replaced archive held that the restored one does not.
    dropped_dates: tuple[str, ...]
    manifest_updated: bool


@dataclass
class _Swap:
    previous: str | None = None
    dropped: tuple[str, ...] = ()
    written: bool = False


def restore_archive_generation(
    store: S3Store, generation_id: str, *, allow_dropping_dates: bool = False
) -> GenerationRestoreOutcome:
    """Make generation ``generation_id`` the archive again.

    The generation is verified first (MD5, readable, archive schema); the archive it
    replaces is itself kept as a generation before the compare-and-swap, so a restore
    can be undone the same way. A restore that would remove dates the current archive
    holds is refused unless ``allow_dropping_dates``: those rows may exist nowhere
    else once retention has deleted their daily files. The manifest is updated last.
    """
    try:
        verified = verify_generation(store, generation_id)
    except InvalidGenerationError as error:
        raise RestoreRefusedError(str(error)) from None
    restored_dates = set(verified.table.column(DATE_COLUMN).to_pylist())
    swap = _Swap()

    def update(current: bytes | None) -> bytes | None:
        # Called again after a lost race: only the last call's decision counts.
        swap.previous, swap.dropped, swap.written = None, (), False
        if current is not None and md5_hex(current) == verified.md5:
            return None  # already this generation: nothing to do
        if current is not None:
            try:
                table = as_archive_rows(
                    decode_parquet(store, layout.ARCHIVE, current), layout.ARCHIVE
                )
                held = set(table.column(DATE_COLUMN).to_pylist())
            except (CorruptObjectError, ArchiveIntegrityError):
                # An unreadable archive is what a restore is for; its bytes are kept
                # below all the same.
                held = set()
            dropped = tuple(sorted(str(date) for date in held - restored_dates))
            if dropped and not allow_dropping_dates:
                raise RestoreRefusedError(
                    f"restoring generation {generation_id} would remove {len(dropped)} date(s) "
                    f"from {store.uri(layout.ARCHIVE)}: {', '.join(dropped)}. Nothing was "
                    "written. Re-run with --allow-dropping-dates to restore it anyway (the "
                    "current archive is kept as a generation first), or re-run backtest_job "
                    "for those dates afterwards"
                )
            previous, _ = keep_generation(store, current)
            swap.previous, swap.dropped = previous.id, dropped
        swap.written = True
        return verified.data

    # The bytes being replaced may well be corrupt: that is what a restore is for.
    compare_and_swap(store, layout.ARCHIVE, update, verify_md5=False)
    return GenerationRestoreOutcome(
        generation=verified.generation.id,
        rows=verified.table.num_rows,
        dates=len(restored_dates),
        written=swap.written,
        previous_generation=swap.previous,
        dropped_dates=swap.dropped,
        manifest_updated=_refresh_manifest(store) if swap.written else False,
    )


def _refresh_manifest(store: S3Store) -> bool:
    """Bring the manifest up to date after the archive changed outside a run."""
    if store.head(layout.MANIFEST) is None:
        return False
    return refresh_manifest(store).written
