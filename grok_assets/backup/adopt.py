"""``grok-assets adopt``: take over, in place, the bucket the previous pipeline wrote.

- The archive is converted to this project's layout: plain strings, ``backtest_date``
  and ``selection_date`` as ``YYYY-MM-DD`` strings, ``company_name`` merged into
  ``stock_name`` and ``categories`` into ``category``, sorted by date and rank, row
  groups that never split a date, MD5 metadata. Every row and every other column keeps
  its values; that is verified on the converted table and on its encoded bytes before
  the swap. The original bytes are kept as an archive generation first, and the swap
  is a compare-and-swap on the archive as it was inspected.
- Daily backups and the published selection get MD5 metadata; their bytes do not change.
- The manifest is rewritten last, in the superset format (:mod:`.manifest`).

:func:`plan_adoption` reads and writes nothing; anything it cannot map without changing
a value (an unknown date type, a repeated date/ticker row, two different values for one
merged column) is a problem naming the object and the column, and nothing is written.
Adopting an adopted bucket finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets import layout
from grok_assets.backup.archive import RANK_COLUMN, encode_archive
from grok_assets.backup.gate import GateError, published_selection_date
from grok_assets.backup.generations import keep_generation
from grok_assets.backup.manifest import refresh_manifest, updated_manifest
from grok_assets.schemas import plain_type
from grok_assets.storage import (
    CorruptObjectError,
    ObjectInfo,
    ObjectMissingError,
    S3Store,
    compare_and_swap,
    decode_parquet,
    md5_hex,
)
from grok_assets.upstream import (
    DATE_COLUMNS,
    RENAMED_COLUMNS,
    UpstreamShapeError,
    archive_rows_as_project,
    iso_dates,
)

DATE_COLUMN = "backtest_date"
_ORDER = [(DATE_COLUMN, "ascending"), (RANK_COLUMN, "ascending")]
_SHOWN = 5


class AdoptionConflictError(RuntimeError):
    """An object changed between the plan and its write; nothing more was written."""


@dataclass(frozen=True)
class Step:
    key: str
    action: str
    detail: str

    def line(self) -> str:
        return f"{self.action:<18} {self.key}: {self.detail}"


@dataclass
class ArchiveConversion:
    original: bytes
    info: ObjectInfo
    converted: bytes
    rows: int
    dates: int


@dataclass
class AdoptionPlan:
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    archive: ArchiveConversion | None = None
    # Objects to give MD5 metadata, as inspected.
    unrecorded: list[ObjectInfo] = field(default_factory=list)
    manifest_changes: bool = False

    @property
    def nothing_to_do(self) -> bool:
        return not (self.archive or self.unrecorded or self.manifest_changes)


# -- the archive ----------------------------------------------------------------------------


def _expected(original: pa.Table, column: str, where: str) -> pa.ChunkedArray:
    """What ``column`` of the converted archive must hold, derived from the original
    rows independently of the conversion."""
    if column in DATE_COLUMNS:
        return iso_dates(original.column(column), where, column)
    names = original.schema.names
    olds = [old for old, new in RENAMED_COLUMNS.items() if new == column and old in names]
    if not olds:
        values = original.column(column)
        return values.cast(plain_type(values.type))
    merged = original.column(column).cast(pa.string()) if column in names else None
    for old in olds:
        fallback = original.column(old).cast(pa.string())
        merged = fallback if merged is None else pc.coalesce(merged, fallback)
    assert merged is not None  # olds is not empty
    return merged


def _duplicates(table: pa.Table) -> list[str]:
    counts = table.group_by([DATE_COLUMN, "ticker"]).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
    return [
        f"{row[DATE_COLUMN]}/{row['ticker']} ({row['count_all']} rows)"
        for row in repeated.slice(0, _SHOWN).to_pylist()
    ] + ([f"and {repeated.num_rows - _SHOWN} more"] if repeated.num_rows > _SHOWN else [])


@dataclass(frozen=True)
class ConvertedArchive:
    table: pa.Table
    encoded: bytes
    # The previous pipeline's column names folded into this project's.
    merged: tuple[str, ...]


def convert_archive(data: bytes, store: S3Store) -> ConvertedArchive:
    """The archive's rows in this project's form and its encoded bytes, both verified
    to hold every original row and value; raises UpstreamShapeError naming the problem."""
    where = store.uri(layout.ARCHIVE)
    original = decode_parquet(store, layout.ARCHIVE, data)
    for column in (DATE_COLUMN, "ticker", RANK_COLUMN):
        if column not in original.schema.names:
            raise UpstreamShapeError(f"{where} has no {column!r} column; it is not an archive")
    converted = archive_rows_as_project(original, where).replace_schema_metadata(None)
    undated = converted.column(DATE_COLUMN).null_count
    if undated:
        raise UpstreamShapeError(f"{where} column {DATE_COLUMN!r} is null on {undated} row(s)")
    repeated = _duplicates(converted)
    if repeated:
        raise UpstreamShapeError(
            f"{where} holds more than one row for the same {DATE_COLUMN} and ticker: "
            f"{', '.join(repeated)}; decide which to keep before adopting"
        )
    order = pc.sort_indices(converted, sort_keys=_ORDER)
    converted, original = converted.take(order), original.take(order)
    for column in converted.schema.names:
        if not converted.column(column).equals(_expected(original, column, where)):
            raise UpstreamShapeError(
                f"{where} column {column!r}: converting it would change its values"
            )
    merged = tuple(old for old in RENAMED_COLUMNS if old in original.schema.names)
    lost = [
        name
        for name in original.schema.names
        if name not in converted.schema.names and name not in merged
    ]
    if lost:
        raise UpstreamShapeError(f"{where} column(s) {', '.join(lost)} would be lost")
    encoded = encode_archive(converted)
    if not decode_parquet(store, layout.ARCHIVE, encoded).equals(converted):
        raise UpstreamShapeError(f"{where}: the converted archive does not read back as written")
    return ConvertedArchive(converted, encoded, merged)


def _plan_archive(store: S3Store, plan: AdoptionPlan) -> None:
    try:
        data, info = store.get_bytes(layout.ARCHIVE)
    except ObjectMissingError:
        plan.steps.append(Step(layout.ARCHIVE, "nothing to do", "there is no archive"))
        return
    try:
        converted = convert_archive(data, store)
    except (UpstreamShapeError, CorruptObjectError) as error:
        plan.problems.append(str(error))
        return
    table = converted.table
    dates = len(pc.unique(table.column(DATE_COLUMN)))
    if md5_hex(converted.encoded) == md5_hex(data) and info.md5 is not None:
        plan.steps.append(
            Step(layout.ARCHIVE, "nothing to do", f"already this project's layout ({dates} dates)")
        )
        return
    plan.archive = ArchiveConversion(data, info, converted.encoded, table.num_rows, dates)
    merges = "".join(f", {old} merged into {RENAMED_COLUMNS[old]}" for old in converted.merged)
    plan.steps.append(
        Step(
            layout.ARCHIVE,
            "convert",
            f"{table.num_rows} rows, {dates} dates, {table.num_columns} columns kept with "
            f"their values; dates as YYYY-MM-DD strings{merges}; sorted, no row group "
            "splitting a date; the original kept as an archive generation",
        )
    )


def _apply_archive(store: S3Store, conversion: ArchiveConversion) -> str:
    generation, _ = keep_generation(store, conversion.original)

    def update(current: bytes | None) -> bytes:
        if current is None or md5_hex(current) != md5_hex(conversion.original):
            raise AdoptionConflictError(
                f"{store.uri(layout.ARCHIVE)} changed since it was inspected; nothing was "
                "written to it: run `grok-assets adopt` again"
            )
        return conversion.converted

    # The previous pipeline's archive carries no MD5 metadata to verify against.
    compare_and_swap(store, layout.ARCHIVE, update, verify_md5=False)
    return generation.id


# -- everything else ------------------------------------------------------------------------


def _plan_metadata(store: S3Store, plan: AdoptionPlan) -> None:
    keys = [
        info.key
        for info in store.list(layout.DAILY_BACKUP_DIR)
        if (layout.parse_dated_key(info.key) or ("",))[0] == layout.DAILY
    ]
    for key in [*keys, layout.PUBLISHED_SELECTION]:
        info = store.head(key)
        if info is not None and info.md5 is None:
            plan.unrecorded.append(info)
    if plan.unrecorded:
        plan.steps.append(
            Step(
                "daily backups, selection",
                "add MD5 metadata",
                f"{len(plan.unrecorded)} object(s), bytes unchanged",
            )
        )


def _plan_selection(store: S3Store, plan: AdoptionPlan) -> None:
    try:
        published = published_selection_date(store)
    except (GateError, CorruptObjectError) as error:
        plan.problems.append(f"the published selection cannot be read: {error}")
        return
    if published is not None:
        plan.steps.append(
            Step(layout.PUBLISHED_SELECTION, "read", f"publishes {published}; the gate reads it")
        )


def _plan_manifest(store: S3Store, plan: AdoptionPlan) -> None:
    try:
        current, _ = store.get_bytes(layout.MANIFEST, verify_md5=False)
    except ObjectMissingError:
        current = None
    try:
        changed = updated_manifest(store, current) is not None
    except ValueError as error:
        plan.problems.append(str(error))
        return
    # An archive or metadata write changes the ETags the manifest records.
    plan.manifest_changes = changed or bool(plan.archive or plan.unrecorded)
    if plan.manifest_changes:
        plan.steps.append(
            Step(
                layout.MANIFEST,
                "rewrite",
                "size, updated_at and md5 of every file, the previous pipeline's fields kept",
            )
        )


def plan_adoption(store: S3Store) -> AdoptionPlan:
    plan = AdoptionPlan()
    _plan_archive(store, plan)
    _plan_selection(store, plan)
    _plan_metadata(store, plan)
    _plan_manifest(store, plan)
    return plan


def apply_adoption(store: S3Store, plan: AdoptionPlan) -> list[str]:
    """Carry out a plan without problems; returns one line per thing done."""
    if plan.problems:
        raise ValueError("a plan with problems is never applied")
    done: list[str] = []
    if plan.archive is not None:
        generation = _apply_archive(store, plan.archive)
        done.append(
            f"converted {store.uri(layout.ARCHIVE)} ({plan.archive.rows} rows, "
            f"{plan.archive.dates} dates); the original is archive generation {generation}"
        )
    for info in plan.unrecorded:
        store.record_md5(info.key, info.etag)
    if plan.unrecorded:
        done.append(f"recorded the MD5 of {len(plan.unrecorded)} object(s); bytes unchanged")
    if plan.manifest_changes:
        outcome = refresh_manifest(store)
        done.append(f"wrote {store.uri(layout.MANIFEST)} ({outcome.files} files)")
    return done
