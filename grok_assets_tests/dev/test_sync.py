"""``grok-assets sync``: mirror the manifest's files locally, verified, atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from grok_assets import layout
from grok_assets.backup.manifest import encode_manifest, updated_manifest
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.cli.main import main
from grok_assets.dev.sync import UnsafeKeyError, local_path, sync_from_manifest
from grok_assets.storage import S3Store, compare_and_swap, encode_parquet
from grok_assets_tests.support.factories import backtest_rows, publish_selection, write_daily_backup

DATES = ("2026-11-19", "2026-11-20")
DAILY_KEY = layout.daily_backup_key(dt.date(2026, 11, 20))


def write_manifest(store: S3Store) -> dict[str, Any]:
    compare_and_swap(
        store,
        layout.MANIFEST,
        lambda current: updated_manifest(store, current),
        content_type="application/json",
    )
    data, _ = store.get_bytes(layout.MANIFEST)
    return dict(json.loads(data)["files"])


@pytest.fixture
def listed(store: S3Store) -> dict[str, Any]:
    """A bucket the pipeline has run on for two days; returns the manifest's files."""
    for date in DATES:
        key = layout.daily_backup_key(dt.date.fromisoformat(date))
        write_daily_backup(store, date)
        upsert_daily_into_archive(store, date, key)
    publish_selection(store, DATES[-1])
    store.put_bytes(layout.replay_answer_key(dt.date(2026, 11, 20)), b'{"answer": []}')
    return write_manifest(store)


def local_files(dest: Path) -> set[str]:
    return {path.relative_to(dest).as_posix() for path in dest.rglob("*") if path.is_file()}


def s3_bytes(store: S3Store, key: str) -> bytes:
    return store.get_bytes(key)[0]


def test_sync_downloads_every_listed_file_and_verifies_it(
    store: S3Store,
    environ: dict[str, str],
    listed: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "mirror"

    assert main(["sync", "--dest", str(dest)], environ=environ) == 0

    # Exactly the listed files: no temporary files left behind, nothing unlisted.
    assert local_files(dest) == set(listed)
    for key, entry in listed.items():
        data = (dest / key).read_bytes()
        assert data == s3_bytes(store, key)
        assert hashlib.md5(data).hexdigest() == entry["md5"]
    assert f"{len(listed)} downloaded, 0 unchanged, 0 failed" in capsys.readouterr().out


def test_a_second_sync_downloads_nothing(
    store: S3Store,
    environ: dict[str, str],
    listed: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sync", "--dest", str(tmp_path)], environ=environ) == 0
    capsys.readouterr()
    mtimes = {key: (tmp_path / key).stat().st_mtime_ns for key in listed}

    assert main(["sync", "--dest", str(tmp_path)], environ=environ) == 0

    assert f"0 downloaded, {len(listed)} unchanged, 0 failed" in capsys.readouterr().out
    assert {key: (tmp_path / key).stat().st_mtime_ns for key in listed} == mtimes


def test_a_locally_modified_file_is_downloaded_again(
    store: S3Store, listed: dict[str, Any], tmp_path: Path
) -> None:
    sync_from_manifest(store, tmp_path)
    (tmp_path / DAILY_KEY).write_bytes(b"edited by hand")
    (tmp_path / layout.ARCHIVE).unlink()

    report = sync_from_manifest(store, tmp_path)

    assert sorted(report.downloaded) == sorted([DAILY_KEY, layout.ARCHIVE])
    assert len(report.unchanged) == len(listed) - 2
    assert report.failed == []
    assert (tmp_path / DAILY_KEY).read_bytes() == s3_bytes(store, DAILY_KEY)


def test_a_listed_object_missing_in_s3_is_a_failure(
    store: S3Store,
    environ: dict[str, str],
    listed: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store.delete(DAILY_KEY)

    assert main(["sync", "--dest", str(tmp_path)], environ=environ) == 1

    captured = capsys.readouterr()
    assert f"FAILED {DAILY_KEY}: listed in the manifest but missing in S3" in captured.err
    assert f"{len(listed) - 1} downloaded, 0 unchanged, 1 failed" in captured.out
    assert not (tmp_path / DAILY_KEY).exists()


@pytest.mark.parametrize("how", ["rewritten", "bit-rot"])
def test_a_corrupt_object_fails_and_leaves_the_local_copy(
    store: S3Store,
    environ: dict[str, str],
    s3_client: Any,
    listed: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    assert main(["sync", "--dest", str(tmp_path)], environ=environ) == 0
    good = (tmp_path / DAILY_KEY).read_bytes()
    other = encode_parquet(backtest_rows("2026-11-20", 3, variant=7))
    if how == "rewritten":
        # Valid object, consistent metadata, but not the bytes the manifest lists.
        store.put_bytes(DAILY_KEY, other)
    else:
        # Bytes that do not match the MD5 stored with the object either.
        s3_client.put_object(
            Bucket=store.bucket,
            Key=store.location.key(DAILY_KEY),
            Body=other,
            Metadata={"md5": listed[DAILY_KEY]["md5"]},
        )
    (tmp_path / DAILY_KEY).write_bytes(b"stale local copy")
    capsys.readouterr()

    assert main(["sync", "--dest", str(tmp_path)], environ=environ) == 1

    err = capsys.readouterr().err
    assert f"FAILED {DAILY_KEY}" in err
    assert (tmp_path / DAILY_KEY).read_bytes() == b"stale local copy"
    assert good != other
    assert not [path for path in tmp_path.rglob("*.part")]


def test_without_a_manifest_sync_fails_clearly(
    store: S3Store, environ: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_daily_backup(store, DATES[0])

    assert main(["sync", "--dest", str(tmp_path)], environ=environ) == 1

    assert "manifest.json does not exist" in capsys.readouterr().err
    assert local_files(tmp_path) == set()


def test_keys_that_would_escape_the_destination_are_refused(store: S3Store, tmp_path: Path) -> None:
    dest = tmp_path / "mirror"
    entry = {"size": 1, "md5": hashlib.md5(b"x").hexdigest(), "updated_at": "", "etag": ""}
    store.put_bytes("escape.parquet", b"x")
    manifest = {"last_updated": "", "files": {"../escape.parquet": entry, "/abs.parquet": entry}}
    store.put_bytes(layout.MANIFEST, encode_manifest(manifest))

    report = sync_from_manifest(store, dest)

    assert sorted(key for key, _ in report.failed) == ["../escape.parquet", "/abs.parquet"]
    assert not (tmp_path / "escape.parquet").exists()
    for bad in ("a/../../b", "a//b", "./a", "a\\..\\b", ""):
        with pytest.raises(UnsafeKeyError):
            local_path(dest, bad)
    assert local_path(dest, "backtest/x.parquet") == dest / "backtest" / "x.parquet"
