"""manifest.json: every parquet object's size, Tokyo update time and the MD5 of its bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

import pytest

from grok_assets import layout
from grok_assets.backup.manifest import (
    ManifestError,
    audit_manifest,
    encode_manifest,
    parse_manifest,
    updated_manifest,
)
from grok_assets.storage import S3Store, encode_parquet
from grok_assets_tests.support.factories import backtest_rows

TOKYO_OFFSET = dt.timedelta(hours=9)

PARQUET_KEYS = (
    layout.ARCHIVE,
    layout.daily_backup_key(dt.date(2026, 11, 20)),
    layout.candidates_key(dt.date(2026, 11, 24)),
)
RAW_KEY = layout.PUBLISHED_SELECTION  # written without MD5 metadata


def full_key(store: S3Store, relative: str) -> str:
    return store.location.key(relative)


def s3_bytes(s3_client: Any, store: S3Store, relative: str) -> bytes:
    response = s3_client.get_object(Bucket=store.bucket, Key=full_key(store, relative))
    return bytes(response["Body"].read())


@pytest.fixture
def populated(store: S3Store, s3_client: Any) -> S3Store:
    for index, key in enumerate(PARQUET_KEYS):
        store.put_bytes(key, encode_parquet(backtest_rows("2026-11-20", index + 1)))
    s3_client.put_object(
        Bucket=store.bucket, Key=full_key(store, RAW_KEY), Body=b"raw bytes, no md5 metadata"
    )
    # Not tracked: JSON objects under the prefix, and anything outside the prefix.
    store.put_bytes(layout.replay_answer_key(dt.date(2026, 11, 24)), b'{"answer": []}')
    store.put_bytes(layout.MANIFEST, b'{"files": {}}')
    s3_client.put_object(Bucket=store.bucket, Key="elsewhere/outside.parquet", Body=b"x")
    return store


def test_manifest_lists_every_parquet_object_with_the_md5_of_its_bytes(
    populated: S3Store, s3_client: Any
) -> None:
    manifest = json.loads(updated_manifest(populated, None) or b"")
    files = manifest["files"]

    assert sorted(files) == sorted([*PARQUET_KEYS, RAW_KEY])
    for key, entry in files.items():
        data = s3_bytes(s3_client, populated, key)
        assert entry["md5"] == hashlib.md5(data).hexdigest(), key
        assert entry["size"] == len(data), key
        updated_at = dt.datetime.fromisoformat(entry["updated_at"])
        assert entry["updated_at"].endswith("+09:00"), entry["updated_at"]
        assert updated_at.utcoffset() == TOKYO_OFFSET
        head = s3_client.head_object(Bucket=populated.bucket, Key=full_key(populated, key))
        assert abs(updated_at - head["LastModified"]) < dt.timedelta(seconds=1)
    assert manifest["last_updated"].endswith("+09:00")


def test_last_updated_is_the_given_moment_in_tokyo(populated: S3Store) -> None:
    moment = dt.datetime(2026, 11, 24, 7, 30, 5, tzinfo=dt.UTC)
    manifest = json.loads(updated_manifest(populated, None, now=moment) or b"")
    assert manifest["last_updated"] == "2026-11-24T16:30:05+09:00"


def test_md5_of_a_multipart_object_is_of_its_bytes_not_its_etag(
    store: S3Store, s3_client: Any
) -> None:
    key = full_key(store, "big.parquet")
    parts = [b"a" * (5 * 1024 * 1024), b"tail"]
    upload = s3_client.create_multipart_upload(Bucket=store.bucket, Key=key)
    etags = [
        s3_client.upload_part(
            Bucket=store.bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=body,
        )["ETag"]
        for number, body in enumerate(parts, start=1)
    ]
    s3_client.complete_multipart_upload(
        Bucket=store.bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={
            "Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, start=1)]
        },
    )
    assert "-" in s3_client.head_object(Bucket=store.bucket, Key=key)["ETag"]  # multipart
    entry = json.loads(updated_manifest(store, None) or b"")["files"]["big.parquet"]
    assert entry["md5"] == hashlib.md5(b"".join(parts)).hexdigest()
    assert "-" not in entry["md5"]


def test_unchanged_files_give_no_new_manifest(populated: S3Store) -> None:
    first = updated_manifest(populated, None)
    assert first is not None
    assert updated_manifest(populated, first) is None


def test_a_changed_file_gives_a_new_manifest(populated: S3Store, s3_client: Any) -> None:
    first = updated_manifest(populated, None)
    assert first is not None
    populated.put_bytes(layout.ARCHIVE, b"new archive bytes")

    second = updated_manifest(populated, first)

    assert second is not None
    entry = json.loads(second)["files"][layout.ARCHIVE]
    assert entry["md5"] == hashlib.md5(b"new archive bytes").hexdigest()
    assert entry["size"] == len(b"new archive bytes")
    assert json.loads(second)["files"][RAW_KEY] == json.loads(first)["files"][RAW_KEY]


def test_audit_of_an_intact_manifest_finds_nothing(populated: S3Store) -> None:
    populated.put_bytes(layout.MANIFEST, updated_manifest(populated, None) or b"")
    manifest, findings = audit_manifest(populated)
    assert manifest is not None
    assert len(manifest["files"]) == len(PARQUET_KEYS) + 1
    assert findings == []


def test_audit_without_a_manifest_reports_none(store: S3Store) -> None:
    assert audit_manifest(store) == (None, [])


def test_audit_finds_deleted_resized_and_altered_files(populated: S3Store, s3_client: Any) -> None:
    populated.put_bytes(layout.MANIFEST, updated_manifest(populated, None) or b"")
    deleted, resized, altered = PARQUET_KEYS
    original = s3_bytes(s3_client, populated, altered)
    raw_original = s3_bytes(s3_client, populated, RAW_KEY)

    populated.delete(deleted)
    populated.put_bytes(resized, s3_bytes(s3_client, populated, resized) + b"more")
    flipped = bytes([original[0] ^ 0xFF]) + original[1:]
    populated.put_bytes(altered, flipped)
    # Same length, different bytes, and no MD5 metadata: the audit must hash the bytes.
    raw_flipped = bytes([raw_original[0] ^ 0xFF]) + raw_original[1:]
    s3_client.put_object(
        Bucket=populated.bucket, Key=full_key(populated, RAW_KEY), Body=raw_flipped
    )

    _, findings = audit_manifest(populated)
    problems = {finding.key: finding.problem for finding in findings}

    assert set(problems) == {deleted, resized, altered, RAW_KEY}
    assert "missing" in problems[deleted]
    assert "size" in problems[resized]
    assert "MD5" in problems[altered]
    assert hashlib.md5(flipped).hexdigest() in problems[altered]
    assert "MD5" in problems[RAW_KEY]
    assert hashlib.md5(raw_flipped).hexdigest() in problems[RAW_KEY]


def test_parse_manifest_of_non_json_names_the_object(store: S3Store) -> None:
    uri = store.uri(layout.MANIFEST)
    with pytest.raises(ManifestError, match=r"manifest\.json"):
        parse_manifest(b"<html>not json</html>", uri)
    with pytest.raises(ManifestError, match=r"manifest\.json"):
        parse_manifest(b"\xff\xfe\x00", uri)
    with pytest.raises(ManifestError, match=r"manifest\.json"):
        parse_manifest(b'["a list"]', uri)
    with pytest.raises(ManifestError, match=r"manifest\.json"):
        parse_manifest(b'{"last_updated": "x"}', uri)


def test_a_corrupt_manifest_in_s3_is_reported_not_rebuilt(store: S3Store) -> None:
    store.put_bytes(layout.MANIFEST, b"garbage")
    with pytest.raises(ManifestError, match=re.escape(store.uri(layout.MANIFEST))):
        updated_manifest(store, b"garbage")
    with pytest.raises(ManifestError, match=re.escape(store.uri(layout.MANIFEST))):
        audit_manifest(store)


def test_encode_then_parse_round_trips() -> None:
    manifest = {"last_updated": "2026-11-24T16:30:05+09:00", "files": {"a.parquet": {"size": 1}}}
    assert parse_manifest(encode_manifest(manifest), "s3://b/manifest.json") == manifest
