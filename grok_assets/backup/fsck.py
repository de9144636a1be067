"""``grok-assets fsck``: is what S3 holds what the manifest and the archive say it holds?

Three audits, each reported as findings rather than raised, so one bad object does
not hide the others:

- ``manifest``: every object the manifest lists exists, has the listed size, and its
  bytes (downloaded and re-hashed, not its metadata) have the listed MD5;
- ``archive``: each archive date whose daily backup still exists holds exactly that
  file's rows, and each daily backup's date is in the archive;
- ``unreferenced``: objects under the prefix that neither the manifest nor the key
  layout accounts for, and layout parquet files the manifest does not list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from grok_assets import layout
from grok_assets.backup.archive import DATE_COLUMN, ArchiveIntegrityError
from grok_assets.backup.coverage import archive_rows_reader, compare_daily_with_archive
from grok_assets.backup.manifest import ManifestError, audit_manifest, is_absent
from grok_assets.schemas import SchemaMismatchError
from grok_assets.storage import (
    ObjectInfo,
    ObjectMissingError,
    S3Store,
    StorageError,
    md5_hex,
    parquet_file,
)
from grok_assets.upstream import UpstreamShapeError, iso_dates

MANIFEST = "manifest"
ARCHIVE = "archive"
UNREFERENCED = "unreferenced"


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    problem: str

    def line(self) -> str:
        return f"{self.kind:<12} {self.key}: {self.problem}"


# -- manifest ------------------------------------------------------------------------------


def _rehash(store: S3Store, relative_key: str, listed: dict[str, Any]) -> Finding | None:
    """Compare the object's actual bytes with the manifest entry."""
    try:
        # get_bytes also refuses bytes that differ from the MD5 stored with the object.
        data, _ = store.get_bytes(relative_key)
    except ObjectMissingError:
        return Finding(MANIFEST, relative_key, "listed in the manifest but missing in S3")
    except StorageError as error:
        return Finding(MANIFEST, relative_key, str(error))
    if len(data) != listed.get("size"):
        return Finding(
            MANIFEST, relative_key, f"size is {len(data)}, manifest says {listed.get('size')}"
        )
    actual = md5_hex(data)
    if actual != listed.get("md5"):
        return Finding(
            MANIFEST,
            relative_key,
            f"MD5 of the bytes is {actual}, manifest says {listed.get('md5')}",
        )
    return None


def check_manifest(store: S3Store) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Findings about the manifest, and its ``files`` (None when there is no usable one)."""
    try:
        manifest, audited = audit_manifest(store)
    except ManifestError as error:
        return None, [Finding(MANIFEST, layout.MANIFEST, str(error))]
    if manifest is None:
        return {}, [Finding(MANIFEST, item.key, item.problem) for item in audited]
    findings = [Finding(MANIFEST, item.key, item.problem) for item in audited]
    flagged = {item.key for item in audited}
    files: dict[str, Any] = manifest["files"]
    for relative_key, listed in sorted(files.items()):
        if relative_key in flagged:
            continue
        if is_absent(listed):
            continue  # the previous pipeline's note that a file does not exist
        # The audit may have trusted MD5 metadata; only the bytes prove the content.
        finding = _rehash(store, relative_key, listed)
        if finding is not None:
            findings.append(finding)
    return files, findings


# -- archive -------------------------------------------------------------------------------


def _archive_dates(store: S3Store) -> set[str] | None:
    parquet = parquet_file(store, layout.ARCHIVE)
    if parquet is None:
        return None
    if DATE_COLUMN not in parquet.schema_arrow.names:
        raise SchemaMismatchError(f"{store.uri(layout.ARCHIVE)} has no {DATE_COLUMN!r} column")
    uri = store.uri(layout.ARCHIVE)
    dates = iso_dates(parquet.read(columns=[DATE_COLUMN]).column(0), uri, DATE_COLUMN)
    return {str(value) for value in dates.to_pylist()}


def check_archive(store: S3Store, listing: dict[str, ObjectInfo]) -> list[Finding]:
    daily_days: dict[str, dt.date] = {}
    for key in listing:
        parsed = layout.parse_dated_key(key)
        if parsed is not None and parsed[0] == layout.DAILY:
            daily_days[parsed[1].isoformat()] = parsed[1]
    try:
        dates = _archive_dates(store)
        if dates is None:
            if not daily_days:
                return []
            return [
                Finding(
                    ARCHIVE, layout.ARCHIVE, f"missing while {len(daily_days)} daily files exist"
                )
            ]
        findings = [
            Finding(ARCHIVE, layout.daily_backup_key(day), f"{date} is not in the archive")
            for date, day in sorted(daily_days.items())
            if date not in dates
        ]
        reader = archive_rows_reader(store)
        for date in sorted(dates & set(daily_days)):
            try:
                check = compare_daily_with_archive(store, daily_days[date], reader)
            except ObjectMissingError:
                continue  # deleted since the listing (retention): nothing to compare
            if not check.same:
                findings.append(
                    Finding(ARCHIVE, layout.daily_backup_key(daily_days[date]), check.detail)
                )
    except (
        StorageError,
        SchemaMismatchError,
        ArchiveIntegrityError,
        UpstreamShapeError,
        pa.ArrowException,
    ) as error:
        # An unusable archive is itself the finding; nothing can be compared with it.
        return [Finding(ARCHIVE, layout.ARCHIVE, f"cannot be checked: {error}")]
    return findings


# -- unreferenced --------------------------------------------------------------------------


def check_unreferenced(
    listing: dict[str, ObjectInfo], manifest_files: dict[str, Any] | None
) -> list[Finding]:
    """``manifest_files`` None means the manifest is unusable: only unknown keys are
    reported then, not every parquet file as missing from it."""
    findings: list[Finding] = []
    listed = manifest_files or {}
    for key in sorted(listing):
        if key in listed:
            continue
        if not layout.is_layout_key(key):
            findings.append(
                Finding(UNREFERENCED, key, "not in the manifest and not a key of the layout")
            )
        elif manifest_files is not None and layout.is_tracked(key):
            findings.append(Finding(UNREFERENCED, key, "a parquet file the manifest does not list"))
    return findings


def run_fsck(store: S3Store) -> list[Finding]:
    """Every finding about the bucket prefix; an empty list means it is consistent."""
    listing = {info.key: info for info in store.list()}
    manifest_files, findings = check_manifest(store)
    findings += check_archive(store, listing)
    findings += check_unreferenced(listing, manifest_files)
    return findings
