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
from dataclasses import dataclass, replace

from grok_assets import layout
from grok_assets.backup.coverage import (
    ArchiveRows,
    archive_rows_reader,
    cached,
    compare_daily_with_archive,
)
from grok_assets.backup.gate import published_selection_date
from grok_assets.backup.manifest import refresh_manifest
from grok_assets.layout import DAILY, parse_dated_key
from grok_assets.storage import CorruptObjectError, ObjectMissingError, S3Store, read_parquet

DEFAULT_DAYS = 7

# Never deleted, whatever a plan says: they are the backup itself and its index.
PROTECTED_KEYS = frozenset({layout.PUBLISHED_SELECTION, layout.ARCHIVE, layout.MANIFEST})


class Action(enum.StrEnum):
    DELETE = "DELETE"
    KEEP = "KEEP"
    # Planned for deletion, but someone else removed it first.
    GONE = "GONE"


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
    if store.head(layout.daily_backup_key(day)) is not None:
        # While the day's backup is kept, keep its input too, so the day can be re-run.
        check = compare_daily_with_archive(store, day, archive_rows)
        if not check.same:
            return Action.KEEP, f"the daily backup for {date} is kept ({check.detail})"
    key = layout.candidates_key(day)
    try:
        candidates = read_parquet(store, key)
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
        return Action.KEEP, f"there is no archive {layout.ARCHIVE}"
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
    for prefix in (layout.DAILY_BACKUP_DIR, layout.CANDIDATES_DIR):
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
    archive_rows = cached(archive_rows_reader(store))
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
        if deleted_any or store.head(layout.MANIFEST) is not None:
            manifest_updated = refresh_manifest(store).written
    return RetentionOutcome(tuple(final), manifest_updated)
