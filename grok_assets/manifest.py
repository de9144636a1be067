"""``manifest.json``: size, update time and MD5 of every parquet object under the prefix.

The ``md5`` field is always the MD5 of the bytes: taken from the metadata written
with the object, reused from the previous manifest when the object is unchanged,
and otherwise computed from the bytes. Never a (possibly multipart) ETag.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from grok_assets import keys
from grok_assets.schemas import TOKYO
from grok_assets.storage import ObjectInfo, S3Store, md5_hex

_TOKYO = ZoneInfo(TOKYO)


class ManifestError(ValueError):
    """``manifest.json`` in S3 is not a manifest; it is reported, never overwritten blindly."""


def tokyo_iso(moment: dt.datetime) -> str:
    return moment.astimezone(_TOKYO).isoformat(timespec="seconds")


def is_tracked(relative_key: str) -> bool:
    return relative_key.endswith(".parquet")


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


def _entry(store: S3Store, info: ObjectInfo, previous: dict[str, Any] | None) -> dict[str, Any]:
    head = store.head(info.key) or info
    md5 = head.md5
    if md5 is None and previous and previous.get("etag") == head.etag:
        md5 = previous.get("md5")
    if md5 is None:
        md5 = md5_hex(store.get_bytes(info.key)[0])
    return {
        "size": head.size,
        "updated_at": tokyo_iso(head.last_modified),
        "md5": md5,
        "etag": head.etag,
    }


def current_files(store: S3Store, previous_files: dict[str, Any]) -> dict[str, Any]:
    listed = [info for info in store.list() if is_tracked(info.key)]
    return {info.key: _entry(store, info, previous_files.get(info.key)) for info in listed}


def updated_manifest(
    store: S3Store, previous: bytes | None, now: dt.datetime | None = None
) -> bytes | None:
    """The new manifest bytes, or None when the files it lists have not changed (so a
    re-run leaves the object, and its ETag, alone)."""
    old = parse_manifest(previous, store.uri(keys.MANIFEST)) if previous is not None else None
    old_files = old["files"] if old else {}
    files = current_files(store, old_files)
    if old is not None and old_files == files:
        return None
    return encode_manifest(
        {"last_updated": tokyo_iso(now or dt.datetime.now(dt.UTC)), "files": files}
    )


def refresh_manifest(store: S3Store) -> bool:
    """Bring ``manifest.json`` up to date by compare-and-swap, as the manifest asset
    does; True when it was written (False: it already listed exactly what S3 holds)."""
    written = False

    def update(current: bytes | None) -> bytes | None:
        nonlocal written
        new = updated_manifest(store, current)
        written = new is not None
        return new

    store.compare_and_swap(keys.MANIFEST, update, content_type="application/json")
    return written


@dataclass(frozen=True)
class ManifestFinding:
    key: str
    problem: str


def audit_manifest(store: S3Store) -> tuple[dict[str, Any] | None, list[ManifestFinding]]:
    """Compare every listed file with the bytes S3 holds now."""
    info = store.head(keys.MANIFEST)
    if info is None:
        return None, []
    data, _ = store.get_bytes(keys.MANIFEST)
    manifest = parse_manifest(data, store.uri(keys.MANIFEST))
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
