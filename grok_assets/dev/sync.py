"""``grok-assets sync``: mirror the files listed in ``manifest.json`` into a local directory.

For local development only; the pipeline never reads these copies. A file is
downloaded when it is missing locally or its MD5 differs from the manifest's; each
download is checked against the manifest's size and MD5 before it replaces the local
file, and is written to a temporary file in the same directory and renamed, so a
reader never sees a half-written file and a failed download leaves the old copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from grok_assets import layout
from grok_assets.backup.manifest import NO_MD5, is_absent, parse_manifest
from grok_assets.storage import ObjectMissingError, S3Store, StorageError, md5_hex

_CHUNK = 1 << 20


class ManifestMissingError(RuntimeError):
    """There is no ``manifest.json`` to sync from."""


class SyncFailure(Exception):
    """One file could not be synced; the message says why."""


@dataclass
class SyncReport:
    downloaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Listed by the previous pipeline as not existing: nothing to download.
    absent: list[str] = field(default_factory=list)
    # (key, why) for every listed file that could not be brought up to date.
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        absent = f", {len(self.absent)} listed as absent" if self.absent else ""
        return (
            f"{len(self.downloaded)} downloaded, {len(self.unchanged)} unchanged, "
            f"{len(self.failed)} failed{absent}"
        )


class UnsafeKeyError(ValueError):
    """A manifest key that would land outside the destination directory."""


def local_path(dest: Path, relative_key: str) -> Path:
    """Where ``relative_key`` goes under ``dest``; refuses keys that could escape it."""
    pure = PurePosixPath(relative_key)
    if (
        not relative_key
        or pure.is_absolute()
        or "\\" in relative_key
        or any(part in ("..", ".", "") for part in relative_key.split("/"))
    ):
        raise UnsafeKeyError(f"refusing key {relative_key!r}: it is not a plain relative path")
    path = dest.joinpath(*pure.parts)
    if not path.resolve().is_relative_to(dest.resolve()):
        raise UnsafeKeyError(f"refusing key {relative_key!r}: it resolves outside {dest}")
    return path


def file_md5(path: Path) -> str | None:
    """MD5 of a local file, None when there is no such file."""
    if not path.is_file():
        return None
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory, so the rename cannot cross filesystems and stays atomic.
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def read_manifest(store: S3Store) -> dict[str, Any]:
    try:
        data, _ = store.get_bytes(layout.MANIFEST)
    except ObjectMissingError:
        raise ManifestMissingError(
            f"{store.uri(layout.MANIFEST)} does not exist: there is nothing to sync from; "
            "run the pipeline (grok_manifest) first"
        ) from None
    return parse_manifest(data, store.uri(layout.MANIFEST))


def _download(store: S3Store, relative_key: str, entry: dict[str, Any], path: Path) -> None:
    """Fetch, verify against the manifest and replace the local file; raises on failure."""
    try:
        # get_bytes already checks the bytes against the MD5 stored with the object.
        data, _ = store.get_bytes(relative_key)
    except ObjectMissingError:
        raise SyncFailure("listed in the manifest but missing in S3") from None
    except StorageError as error:
        raise SyncFailure(str(error)) from None
    if len(data) != entry.get("size"):
        raise SyncFailure(f"S3 holds {len(data)} bytes, the manifest says {entry.get('size')}")
    actual = md5_hex(data)
    if actual != entry.get("md5"):
        raise SyncFailure(f"S3 bytes have MD5 {actual}, the manifest says {entry.get('md5')}")
    try:
        write_atomically(path, data)
    except OSError as error:
        raise SyncFailure(f"cannot write {path}: {error}") from None


def sync_from_manifest(store: S3Store, dest: Path) -> SyncReport:
    """Bring ``dest`` up to date with the files ``manifest.json`` lists.

    Raises ManifestMissingError without a manifest; every per-file problem is
    collected in the report's ``failed`` list instead.
    """
    manifest = read_manifest(store)
    report = SyncReport()
    for relative_key, entry in sorted(manifest["files"].items()):
        if is_absent(entry):
            report.absent.append(relative_key)
            continue
        try:
            if not isinstance(entry, dict):
                raise SyncFailure("the manifest entry is not an object")
            if not entry.get("md5"):
                raise SyncFailure(NO_MD5)
            path = local_path(dest, relative_key)
            if file_md5(path) == entry["md5"]:
                report.unchanged.append(relative_key)
                continue
            _download(store, relative_key, entry, path)
        except (SyncFailure, UnsafeKeyError, OSError) as error:
            report.failed.append((relative_key, str(error)))
            continue
        report.downloaded.append(relative_key)
    return report
