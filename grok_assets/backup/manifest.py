"""``manifest.json``: size, update time and MD5 of every parquet object under the prefix.

Each entry holds the seed document's fields (``size``, ``updated_at``, ``md5``), this
project's ``etag``, and the previous pipeline's ``exists``, ``size_bytes``,
``row_count`` and ``columns``, which its readers know. Top-level fields this project
does not own (the previous pipeline's ``generated_at``, ``update_flag``, ...) are
carried over, and its entries for files that are absent stay as ``exists: false``.

The ``md5`` field is always the MD5 of the bytes: taken from the metadata written
with the object, reused from the previous manifest when the object is unchanged,
and otherwise computed from the bytes. Never a (possibly multipart) ETag.

A refresh costs one listing plus one read of each object that changed (its tail: the
metadata and the parquet footer): an entry whose ETag equals the listing's is the
same version of the object and is reused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from grok_assets import layout
from grok_assets.storage import (
    CorruptObjectError,
    ObjectInfo,
    S3Store,
    compare_and_swap,
    md5_hex,
    open_parquet,
    ranged_reader,
)
from grok_assets.trading_calendar import TOKYO_TZ

ENTRY_FIELDS = ("size", "updated_at", "md5", "etag", "exists", "size_bytes", "row_count", "columns")


class ManifestError(ValueError):
    """``manifest.json`` in S3 is not a manifest; it is reported, never overwritten blindly."""


def tokyo_iso(moment: dt.datetime) -> str:
    return moment.astimezone(TOKYO_TZ).isoformat(timespec="seconds")


def parse_manifest(data: bytes, uri: str) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(
            f"{uri} is not valid JSON ({error}); inspect it, then delete it so that the next "
            "run rebuilds it from S3"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ManifestError(f"{uri} has no 'files' object; it is not a manifest")
    return manifest


def encode_manifest(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def is_absent(entry: Any) -> bool:
    """An entry the previous pipeline wrote for a file that did not exist."""
    return isinstance(entry, dict) and entry.get("exists") is False


def _entry(store: S3Store, listed: ObjectInfo, previous: Any) -> dict[str, Any]:
    if (
        isinstance(previous, dict)
        and previous.get("etag") == listed.etag
        and all(name in previous for name in ENTRY_FIELDS)
        and previous.get("md5")
    ):
        # The same version of the object: nothing about it can have changed.
        return {name: previous[name] for name in ENTRY_FIELDS}
    info, row_count, columns = _describe(store, listed)
    md5 = info.md5 or md5_hex(store.get_bytes(listed.key)[0])
    return {
        "size": info.size,
        "updated_at": tokyo_iso(info.last_modified),
        "md5": md5,
        "etag": info.etag,
        "exists": True,
        "size_bytes": info.size,
        "row_count": row_count,
        "columns": columns,
    }


def _describe(
    store: S3Store, listed: ObjectInfo
) -> tuple[ObjectInfo, int | None, list[str] | None]:
    """The object's info and, for a parquet file, its row count and column names, from
    one read of its tail (no HEAD); an unreadable file has neither (fsck reports it)."""
    reader = ranged_reader(store, listed.key) if listed.size else None
    if reader is None:
        return store.head(listed.key) or listed, None, None
    if not layout.is_tracked(listed.key):
        return reader.info, None, None
    try:
        metadata: pq.FileMetaData = open_parquet(store, listed.key, reader).metadata
    except CorruptObjectError:
        return reader.info, None, None
    names = metadata.schema.to_arrow_schema().names if metadata.num_columns else []
    return reader.info, metadata.num_rows, list(names)


def current_files(store: S3Store, previous_files: dict[str, Any]) -> dict[str, Any]:
    """An entry for every parquet object, and for every other object the previous
    manifest lists; the previous pipeline's entries for absent files kept as they are."""
    listed = [
        info
        for info in store.list()
        if layout.is_tracked(info.key)
        or (info.key in previous_files and info.key != layout.MANIFEST)
    ]
    files = {info.key: _entry(store, info, previous_files.get(info.key)) for info in listed}
    for key, entry in previous_files.items():
        if key not in files and is_absent(entry):
            files[key] = entry
    return files


def updated_manifest(
    store: S3Store, previous: bytes | None, now: dt.datetime | None = None
) -> bytes | None:
    """The new manifest bytes, or None when the files it lists have not changed (so a
    re-run leaves the object, and its ETag, alone)."""
    old = parse_manifest(previous, store.uri(layout.MANIFEST)) if previous is not None else None
    old_files = old["files"] if old else {}
    files = current_files(store, old_files)
    if old is not None and old_files == files and "last_updated" in old:
        return None
    # Fields other writers put there, which their readers may still look for.
    carried = {
        name: value for name, value in (old or {}).items() if name not in ("files", "last_updated")
    }
    return encode_manifest(
        {**carried, "last_updated": tokyo_iso(now or dt.datetime.now(dt.UTC)), "files": files}
    )


@dataclass(frozen=True)
class ManifestOutcome:
    written: bool
    files: int
    last_updated: str
    md5: str


def refresh_manifest(store: S3Store) -> ManifestOutcome:
    """Bring ``manifest.json`` up to date by compare-and-swap; ``written`` is False when
    it already listed exactly what S3 holds."""
    final: dict[str, bytes | bool] = {}

    def update(current: bytes | None) -> bytes | None:
        new = updated_manifest(store, current)
        # Called again after a lost race: only the last call's bytes count.
        final["written"] = new is not None
        final["bytes"] = new if new is not None else current or b""
        return new

    info = compare_and_swap(store, layout.MANIFEST, update, content_type="application/json")
    manifest = parse_manifest(bytes(final["bytes"]), store.uri(layout.MANIFEST))
    return ManifestOutcome(
        written=bool(final["written"]),
        files=len(manifest["files"]),
        last_updated=str(manifest.get("last_updated", "")),
        md5=(info.md5 or "") if info is not None else "",
    )


NO_MD5 = (
    "the manifest entry has no md5 (written before this project took the bucket over): "
    "run `grok-assets adopt`"
)


@dataclass(frozen=True)
class ManifestFinding:
    key: str
    problem: str


def audit_manifest(store: S3Store) -> tuple[dict[str, Any] | None, list[ManifestFinding]]:
    """Compare every listed file with what S3 holds now (sizes, and MD5s as recorded
    with the objects); without a manifest, every tracked object is a reason for one."""
    info = store.head(layout.MANIFEST)
    if info is None:
        tracked = [item.key for item in store.list() if layout.is_tracked(item.key)]
        if not tracked:
            return None, []
        return None, [
            ManifestFinding(layout.MANIFEST, f"missing while {len(tracked)} parquet files exist")
        ]
    data, _ = store.get_bytes(layout.MANIFEST)
    manifest = parse_manifest(data, store.uri(layout.MANIFEST))
    findings: list[ManifestFinding] = []
    for key, listed in sorted(manifest["files"].items()):
        if not isinstance(listed, dict):
            findings.append(ManifestFinding(key, "the manifest entry is not an object"))
            continue
        head = store.head(key)
        if is_absent(listed):
            if head is not None:
                findings.append(ManifestFinding(key, "listed as absent but exists in S3"))
            continue
        if not listed.get("md5"):
            findings.append(ManifestFinding(key, NO_MD5))
            continue
        if head is None:
            findings.append(ManifestFinding(key, "listed in the manifest but missing in S3"))
            continue
        if head.size != listed.get("size"):
            findings.append(
                ManifestFinding(key, f"size is {head.size}, manifest says {listed.get('size')}")
            )
            continue
        md5 = head.md5 or md5_hex(store.get_bytes(key)[0])
        if md5 != listed.get("md5"):
            findings.append(
                ManifestFinding(key, f"MD5 is {md5}, manifest says {listed.get('md5')}")
            )
    return manifest, findings
