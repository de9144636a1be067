"""``manifest.json``: size, update time and MD5 of every parquet object under the prefix.

The ``md5`` field is always the MD5 of the bytes: taken from the metadata written
with the object, reused from the previous manifest when the object is unchanged,
and otherwise computed from the bytes. Never a (possibly multipart) ETag.

A refresh costs one listing plus requests for the objects that changed: an entry
whose ETag equals the listing's is the same version of the object and is reused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from grok_assets import layout
from grok_assets.storage import ObjectInfo, S3Store, compare_and_swap, md5_hex
from grok_assets.trading_calendar import TOKYO_TZ

_ENTRY_FIELDS = ("size", "updated_at", "md5", "etag")


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


def _entry(store: S3Store, listed: ObjectInfo, previous: Any) -> dict[str, Any]:
    if (
        isinstance(previous, dict)
        and previous.get("etag") == listed.etag
        and all(previous.get(name) is not None for name in _ENTRY_FIELDS)
    ):
        # The same version of the object: nothing about it can have changed.
        return {name: previous[name] for name in _ENTRY_FIELDS}
    head = store.head(listed.key) or listed
    md5 = head.md5 or md5_hex(store.get_bytes(listed.key)[0])
    return {
        "size": head.size,
        "updated_at": tokyo_iso(head.last_modified),
        "md5": md5,
        "etag": head.etag,
    }


def current_files(store: S3Store, previous_files: dict[str, Any]) -> dict[str, Any]:
    listed = [info for info in store.list() if layout.is_tracked(info.key)]
    return {info.key: _entry(store, info, previous_files.get(info.key)) for info in listed}


def updated_manifest(
    store: S3Store, previous: bytes | None, now: dt.datetime | None = None
) -> bytes | None:
    """The new manifest bytes, or None when the files it lists have not changed (so a
    re-run leaves the object, and its ETag, alone)."""
    old = parse_manifest(previous, store.uri(layout.MANIFEST)) if previous is not None else None
    old_files = old["files"] if old else {}
    files = current_files(store, old_files)
    if old is not None and old_files == files:
        return None
    return encode_manifest(
        {"last_updated": tokyo_iso(now or dt.datetime.now(dt.UTC)), "files": files}
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
        head = store.head(key)
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
