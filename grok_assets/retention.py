"""Retention: delete old daily backups and candidate files, but only what the archive holds.

A daily backup ``backtest/grok_trending_YYYYMMDD.parquet`` may go once the archive
holds exactly its rows (the same multiset of rows, every column); a candidates file
``grok/candidates/grok_candidates_YYYYMMDD.parquet`` once the archive holds a row for
each of its tickers. Everything else is kept, with the reason. The archive, the
manifest and the published selection are never candidates for deletion.

``plan_retention`` only reads; ``apply_retention`` re-checks each file immediately
before deleting it, because the archive may have changed since the plan was made,
then brings the manifest up to date.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets import keys
from grok_assets.archive import DATE_COLUMN
from grok_assets.gate import published_selection_date
from grok_assets.manifest import refresh_manifest
from grok_assets.schemas import BACKTEST_SCHEMA, SchemaMismatchError, require_schema
from grok_assets.storage import CorruptObjectError, ObjectMissingError, S3Store

DEFAULT_DAYS = 7
DAILY = "daily"
CANDIDATES = "candidates"

# Never deleted, whatever a plan says: they are the backup itself and its index.
PROTECTED_KEYS = frozenset({keys.PUBLISHED_SELECTION, keys.ARCHIVE, keys.MANIFEST})

_DATED_KEYS = {
    DAILY: re.compile(rf"^{re.escape(keys.DAILY_BACKUP_DIR)}grok_trending_(\d{{8}})\.parquet$"),
    CANDIDATES: re.compile(
        rf"^{re.escape(keys.CANDIDATES_DIR)}grok_candidates_(\d{{8}})\.parquet$"
    ),
}


class Action(enum.StrEnum):
    DELETE = "DELETE"
    KEEP = "KEEP"
    # Planned for deletion, but someone else removed it first.
    GONE = "GONE"


def parse_dated_key(relative_key: str) -> tuple[str, dt.date] | None:
    """``(kind, day)`` of a daily backup or candidates key; None for any other key."""
    for kind, pattern in _DATED_KEYS.items():
        match = pattern.match(relative_key)
        if match is None:
            continue
        try:
            return kind, dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            return None
    return None


# -- comparing a date's rows with the archive ---------------------------------------------


@dataclass(frozen=True)
class RowsCheck:
    """Whether the archive holds exactly a daily file's rows, and why (not)."""

    same: bool
    detail: str


ArchiveRows = Callable[[str], "pa.Table | None"]


def archive_rows_reader(store: S3Store) -> ArchiveRows:
    """Reads one date's archive rows (None without an archive), fetching only the row
    groups whose statistics admit that date."""

    def read(date: str) -> pa.Table | None:
        rows = store.read_parquet_rows(
            keys.ARCHIVE, columns=BACKTEST_SCHEMA.names, filters=[(DATE_COLUMN, "==", date)]
        )
        if rows is None:
            return None
        # Row-group statistics only narrow the read; keep exactly this date's rows.
        return _conform(rows.filter(pc.equal(rows.column(DATE_COLUMN), date)))

    return read


def _cached(reader: ArchiveRows) -> ArchiveRows:
    # One plan asks for the same date for both kinds of file; read it once.
    memo: dict[str, pa.Table | None] = {}

    def read(date: str) -> pa.Table | None:
        if date not in memo:
            memo[date] = reader(date)
        return memo[date]

    return read


def _conform(table: pa.Table) -> pa.Table:
    return table.select(BACKTEST_SCHEMA.names).cast(BACKTEST_SCHEMA)


def _normalized(value: Any) -> Any:
    # NaN != NaN would make identical rows look different and keep them forever.
    if isinstance(value, float) and math.isnan(value):
        return ("NaN",)
    return value


def _row_multiset(table: pa.Table) -> Counter[tuple[Any, ...]]:
    columns = [table.column(name).to_pylist() for name in table.schema.names]
    return Counter(tuple(_normalized(value) for value in row) for row in zip(*columns, strict=True))


_SORT_KEYS = [(name, "ascending") for name in BACKTEST_SCHEMA.names]


def same_rows(left: pa.Table, right: pa.Table) -> bool:
    """Equal as multisets of rows (order ignored), both already in BACKTEST_SCHEMA."""
    if left.num_rows != right.num_rows:
        return False
    if left.sort_by(_SORT_KEYS).equals(right.sort_by(_SORT_KEYS)):
        return True
    # Table.equals treats NaN as unequal to itself; settle it row by row.
    return _row_multiset(left) == _row_multiset(right)


def compare_daily_with_archive(
    store: S3Store, day: dt.date, archive_rows: ArchiveRows | None = None
) -> RowsCheck:
    """Does the archive hold exactly the rows of ``day``'s daily backup?

    Raises ObjectMissingError when the daily file does not exist. A problem with the
    archive itself (unreadable, wrong schema) raises: nothing can be vouched for then.
    """
    date = day.isoformat()
    key = keys.daily_backup_key(day)
    try:
        daily = store.read_parquet(key)
    except CorruptObjectError as error:
        return RowsCheck(False, f"the daily file is unreadable: {error}")
    try:
        require_schema(daily, BACKTEST_SCHEMA, store.uri(key), allow_extra=False)
        daily = _conform(daily)
    except (SchemaMismatchError, ValueError, pa.ArrowException) as error:
        # The archive upsert refuses such a file, so the archive cannot hold its rows.
        return RowsCheck(False, f"the daily file does not match the archive schema: {error}")
    archived = (archive_rows or archive_rows_reader(store))(date)
    if archived is None:
        return RowsCheck(False, f"there is no archive {keys.ARCHIVE}")
    if archived.num_rows == 0:
        return RowsCheck(False, f"the archive holds no rows for {date}")
    if daily.num_rows != archived.num_rows:
        return RowsCheck(
            False,
            f"the archive holds {archived.num_rows} rows for {date}, "
            f"the daily file {daily.num_rows}",
        )
    if not same_rows(daily, archived):
        return RowsCheck(
            False, f"the archive's {archived.num_rows} rows for {date} differ from the daily file's"
        )
    return RowsCheck(True, f"the archive holds the same {daily.num_rows} rows for {date}")


# -- deciding one file ---------------------------------------------------------------------


def _decide_daily(
    store: S3Store, day: dt.date, published: str | None, archive_rows: ArchiveRows
) -> tuple[Action, str]:
    if day.isoformat() == published:
        # The gate requires this file before the next selection may be published.
        return Action.KEEP, "daily backup of the published selection; the gate needs it"
    check = compare_daily_with_archive(store, day, archive_rows)
    return (Action.DELETE if check.same else Action.KEEP), check.detail


def _decide_candidates(
    store: S3Store, day: dt.date, published: str | None, archive_rows: ArchiveRows
) -> tuple[Action, str]:
    date = day.isoformat()
    if date == published:
        return Action.KEEP, "candidates of the published selection"
    if store.head(keys.daily_backup_key(day)) is not None:
        # While the day's backup is kept, keep its input too, so the day can be re-run.
        check = compare_daily_with_archive(store, day, archive_rows)
        if not check.same:
            return Action.KEEP, f"the daily backup for {date} is kept ({check.detail})"
    key = keys.candidates_key(day)
    try:
        candidates = store.read_parquet(key)
    except CorruptObjectError as error:
        return Action.KEEP, f"the candidates file is unreadable: {error}"
    missing_columns = {"date", "ticker"} - set(candidates.schema.names)
    if missing_columns:
        return (
            Action.KEEP,
            f"the candidates file lacks column(s) {', '.join(sorted(missing_columns))}",
        )
    if candidates.num_rows == 0:
        # The pipeline never writes an empty answer; such a file is worth a look.
        return Action.KEEP, "the candidates file holds no rows"
    archived = archive_rows(date)
    if archived is None:
        return Action.KEEP, f"there is no archive {keys.ARCHIVE}"
    if archived.num_rows == 0:
        return Action.KEEP, f"the archive holds no rows for {date}"
    held = set(
        zip(
            archived.column("selection_date").to_pylist(),
            archived.column("ticker").to_pylist(),
            strict=True,
        )
    )
    wanted = set(
        zip(
            candidates.column("date").to_pylist(),
            candidates.column("ticker").to_pylist(),
            strict=True,
        )
    )
    absent = sorted(ticker for _, ticker in wanted - held)
    if absent:
        return (
            Action.KEEP,
            f"{len(absent)} of {len(wanted)} candidates are not in the archive's rows for "
            f"{date}: {', '.join(absent)}",
        )
    return Action.DELETE, f"the archive holds a row for each of the {len(wanted)} candidates"


def _decide(
    store: S3Store, kind: str, day: dt.date, published: str | None, archive_rows: ArchiveRows
) -> tuple[Action, str]:
    decide = _decide_daily if kind == DAILY else _decide_candidates
    return decide(store, day, published, archive_rows)


# -- plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionItem:
    key: str
    kind: str
    day: dt.date
    action: Action
    reason: str

    def line(self) -> str:
        return f"{self.action} {self.key} — {self.reason}"


@dataclass(frozen=True)
class RetentionPlan:
    as_of: dt.date
    days: int
    published_date: str | None
    items: tuple[RetentionItem, ...]
    # Files of the two patterns dated inside the window: not considered at all.
    within_window: int

    @property
    def cutoff(self) -> dt.date:
        """Files dated before this day are old."""
        return retention_cutoff(self.as_of, self.days)

    @property
    def to_delete(self) -> list[RetentionItem]:
        return [item for item in self.items if item.action is Action.DELETE]

    @property
    def to_keep(self) -> list[RetentionItem]:
        return [item for item in self.items if item.action is Action.KEEP]

    def header(self) -> str:
        return (
            f"retention as of {self.as_of}, window {self.days} days: daily backups and "
            f"candidates dated before {self.cutoff} are old ({len(self.items)} old files, "
            f"{self.within_window} within the window)"
        )

    def lines(self) -> list[str]:
        """One line per old file, ``DELETE|KEEP key — reason``."""
        return [item.line() for item in self.items]


def retention_cutoff(as_of: dt.date, days: int) -> dt.date:
    return as_of - dt.timedelta(days=days)


def _dated_objects(store: S3Store) -> list[tuple[str, str, dt.date]]:
    found: list[tuple[str, str, dt.date]] = []
    for prefix in (keys.DAILY_BACKUP_DIR, keys.CANDIDATES_DIR):
        for info in store.list(prefix):
            parsed = parse_dated_key(info.key)
            if parsed is not None and info.key not in PROTECTED_KEYS:
                found.append((info.key, *parsed))
    return found


def plan_retention(store: S3Store, as_of: dt.date, days: int = DEFAULT_DAYS) -> RetentionPlan:
    """What retention would delete and keep now, and why; reads S3, writes nothing."""
    if days < 1:
        raise ValueError(f"the retention window must be at least 1 day, not {days}")
    cutoff = retention_cutoff(as_of, days)
    published = published_selection_date(store)
    archive_rows = _cached(archive_rows_reader(store))
    items: list[RetentionItem] = []
    within = 0
    # Daily files first: a candidates decision may depend on its day's backup.
    for key, kind, day in sorted(
        _dated_objects(store), key=lambda found: (found[2], found[1] != DAILY)
    ):
        if day >= cutoff:
            within += 1
            continue
        try:
            action, reason = _decide(store, kind, day, published, archive_rows)
        except ObjectMissingError:
            # Deleted since the listing (another cleanup run): nothing left to decide.
            action, reason = Action.GONE, "no longer in S3"
        items.append(RetentionItem(key, kind, day, action, reason))
    return RetentionPlan(as_of, days, published, tuple(items), within)


# -- apply ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionOutcome:
    items: tuple[RetentionItem, ...]
    manifest_updated: bool

    @property
    def deleted(self) -> list[str]:
        return [item.key for item in self.items if item.action is Action.DELETE]

    @property
    def kept(self) -> list[RetentionItem]:
        return [item for item in self.items if item.action is Action.KEEP]

    def lines(self) -> list[str]:
        return [item.line() for item in self.items]


def _recheck(store: S3Store, item: RetentionItem, published: str | None) -> RetentionItem:
    """The item as S3 stands now: the plan may be stale."""
    if item.key in PROTECTED_KEYS or parse_dated_key(item.key) != (item.kind, item.day):
        return replace(item, action=Action.KEEP, reason="not a file retention may delete")
    if store.head(item.key) is None:
        return replace(item, action=Action.GONE, reason="no longer in S3")
    try:
        # Fresh archive reads: re-using the plan's would defeat the re-check.
        action, reason = _decide(store, item.kind, item.day, published, archive_rows_reader(store))
    except ObjectMissingError:
        return replace(item, action=Action.GONE, reason="no longer in S3")
    if action is Action.DELETE:
        return replace(item, reason=reason)
    return replace(item, action=Action.KEEP, reason=f"changed since the plan: {reason}")


def apply_retention(store: S3Store, plan: RetentionPlan) -> RetentionOutcome:
    """Delete the plan's DELETE items that still qualify, then update the manifest.

    The manifest is brought up to date even when a delete fails midway, so that it
    never keeps listing files that are gone.
    """
    published = published_selection_date(store)
    final: list[RetentionItem] = []
    deleted_any = False
    manifest_updated = False
    try:
        for item in plan.items:
            if item.action is not Action.DELETE:
                final.append(item)
                continue
            checked = _recheck(store, item, published)
            if checked.action is Action.DELETE:
                store.delete(checked.key)
                deleted_any = True
            final.append(checked)
    finally:
        if deleted_any or store.head(keys.MANIFEST) is not None:
            manifest_updated = refresh_manifest(store)
    return RetentionOutcome(tuple(final), manifest_updated)
