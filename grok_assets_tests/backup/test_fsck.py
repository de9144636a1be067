"""``grok-assets fsck``: manifest vs bytes, archive vs daily files, unreferenced objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from grok_assets import layout
from grok_assets.backup.fsck import ARCHIVE, MANIFEST, UNREFERENCED, Finding, run_fsck
from grok_assets.backup.manifest import audit_manifest, updated_manifest
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.cli.main import main
from grok_assets.storage import S3Store, compare_and_swap, encode_parquet, write_parquet
from grok_assets_tests.support.factories import (
    backtest_rows,
    publish_selection,
    selection_rows,
    write_daily_backup,
)

DATES = ("2026-11-19", "2026-11-20")
DAY = dt.date(2026, 11, 20)
DAILY_KEY = layout.daily_backup_key(DAY)


def write_manifest(store: S3Store) -> None:
    compare_and_swap(
        store,
        layout.MANIFEST,
        lambda current: updated_manifest(store, current),
        content_type="application/json",
    )


@pytest.fixture
def clean(store: S3Store) -> S3Store:
    """What the pipeline leaves behind after two days, manifest written last."""
    store.put_bytes(layout.PRICES_DAILY, encode_parquet(backtest_rows("2026-11-20", 2)))
    for date in DATES:
        day = dt.date.fromisoformat(date)
        write_parquet(store, layout.candidates_key(day), selection_rows(date))
        store.put_bytes(layout.replay_answer_key(day), b'{"answer": []}')
        write_daily_backup(store, date)
        upsert_daily_into_archive(store, date, layout.daily_backup_key(day), keep_generations=False)
    publish_selection(store, DATES[-1])
    write_manifest(store)
    return store


def kinds(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(finding.kind, finding.key) for finding in findings}


def test_a_clean_bucket_has_no_findings(
    clean: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fsck"], environ=environ) == 0
    assert "no findings" in capsys.readouterr().out


def test_an_empty_bucket_has_no_findings(store: S3Store) -> None:
    assert run_fsck(store) == []


def test_bytes_that_differ_from_the_manifest_are_found(
    clean: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Rewritten after the manifest: S3 metadata is consistent, the manifest is not.
    write_daily_backup(clean, DATES[-1], 3, variant=4)
    upsert_daily_into_archive(clean, DATES[-1], DAILY_KEY, keep_generations=False)

    assert main(["fsck"], environ=environ) == 1

    out = capsys.readouterr().out
    assert f"{MANIFEST:<12} {DAILY_KEY}: MD5 " in out
    assert f"{MANIFEST:<12} {layout.ARCHIVE}: " in out


def test_bit_rot_under_intact_metadata_is_found(clean: S3Store, s3_client: Any) -> None:
    data, info = clean.get_bytes(DAILY_KEY)
    rotten = bytearray(data)
    rotten[len(rotten) // 2] ^= 0xFF
    # Same size, same MD5 metadata: only re-hashing the bytes can tell.
    s3_client.put_object(
        Bucket=clean.bucket,
        Key=clean.location.key(DAILY_KEY),
        Body=bytes(rotten),
        Metadata={"md5": info.md5 or ""},
    )
    _, audited = audit_manifest(clean)
    assert audited == []

    findings = run_fsck(clean)

    assert (MANIFEST, DAILY_KEY) in kinds(findings)
    assert any("does not match its recorded MD5" in finding.problem for finding in findings)


def test_a_listed_object_missing_in_s3_is_found(clean: S3Store) -> None:
    candidates = layout.candidates_key(DAY)
    clean.delete(candidates)

    findings = run_fsck(clean)

    assert findings == [Finding(MANIFEST, candidates, "listed in the manifest but missing in S3")]


def test_a_daily_file_that_differs_from_the_archive_is_found(
    clean: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    write_daily_backup(clean, DATES[-1], 4)
    write_manifest(clean)

    assert main(["fsck"], environ=environ) == 1

    out = capsys.readouterr().out
    assert f"{ARCHIVE:<12} {DAILY_KEY}: the archive holds 3 rows for {DATES[-1]}" in out


def test_a_daily_file_whose_date_is_not_archived_is_found(clean: S3Store) -> None:
    extra = dt.date(2026, 11, 24)
    write_daily_backup(clean, extra.isoformat())
    write_manifest(clean)

    findings = run_fsck(clean)

    assert kinds(findings) == {(ARCHIVE, layout.daily_backup_key(extra))}


def test_archive_dates_without_a_daily_file_are_fine(clean: S3Store) -> None:
    # What retention leaves behind: the archive outlives the daily files.
    clean.delete(layout.daily_backup_key(dt.date.fromisoformat(DATES[0])))
    write_manifest(clean)

    assert run_fsck(clean) == []


def test_unreferenced_objects_are_found(
    clean: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stray = "backtest/grok_trending_20261120.parquet.bak"
    clean.put_bytes(stray, b"leftover")
    unlisted = layout.candidates_key(dt.date(2026, 11, 24))
    write_parquet(clean, unlisted, selection_rows("2026-11-24"))
    # Replay answers are part of the layout and never in the manifest.
    clean.put_bytes(layout.replay_answer_key(dt.date(2026, 11, 24)), b"{}")

    assert main(["fsck"], environ=environ) == 1

    findings = run_fsck(clean)
    assert kinds(findings) == {(UNREFERENCED, stray), (UNREFERENCED, unlisted)}
    out = capsys.readouterr().out
    assert f"{UNREFERENCED:<12} {stray}: not in the manifest and not a key of the layout" in out


def test_an_unreadable_manifest_is_a_finding(clean: S3Store) -> None:
    clean.put_bytes(layout.MANIFEST, b"{not json")

    findings = run_fsck(clean)

    assert kinds(findings) == {(MANIFEST, layout.MANIFEST)}


def test_a_missing_manifest_is_a_finding(store: S3Store) -> None:
    write_daily_backup(store, DATES[0])
    upsert_daily_into_archive(
        store, DATES[0], layout.daily_backup_key(dt.date(2026, 11, 19)), keep_generations=False
    )

    findings = run_fsck(store)

    assert (MANIFEST, layout.MANIFEST) in kinds(findings)
    assert (UNREFERENCED, layout.ARCHIVE) in kinds(findings)
