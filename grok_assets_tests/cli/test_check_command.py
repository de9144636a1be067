"""``grok-assets check``: every check of the selected assets, one table, honest exit code."""

from __future__ import annotations

import dataclasses

import pytest

from grok_assets import layout
from grok_assets.cli.checks import UnknownAssetError, render_table, run_checks
from grok_assets.cli.main import main
from grok_assets.definitions import defs
from grok_assets.dev.seeding import seed_sample
from grok_assets.storage import S3Store
from grok_assets_tests.support.pipeline import DAYS, Pipeline


@pytest.fixture
def one_day(store: S3Store, pipeline: Pipeline) -> S3Store:
    seed_sample(store, DAYS[0], DAYS[1])
    pipeline.run_cycle(DAYS[:1])
    return store


def test_all_checks_pass_on_a_backed_up_day(one_day: S3Store, pipeline: Pipeline) -> None:
    rows = run_checks(defs, resources=pipeline.resources)
    by_check = {row.check: row for row in rows}
    assert set(by_check) == {
        "daily_backup_exists",
        "archive_contains_target_date",
        "manifest_matches_s3",
        "trading_calendar_horizon",
    }
    assert all(row.passed for row in rows)
    assert by_check["daily_backup_exists"].target_date == DAYS[0].isoformat()


def test_a_missing_backup_fails_only_its_checks(one_day: S3Store, pipeline: Pipeline) -> None:
    one_day.delete(layout.daily_backup_key(DAYS[0]))
    rows = run_checks(
        defs, ["grok_trending_daily", "grok_trending_archive"], resources=pipeline.resources
    )
    verdicts = {row.check: row.passed for row in rows}
    assert verdicts == {"daily_backup_exists": False, "archive_contains_target_date": True}
    table = render_table(rows)
    assert "NO (ERROR)" in table
    assert layout.daily_backup_key(DAYS[0]) in table


def test_a_manifest_that_lies_fails_its_check(one_day: S3Store, pipeline: Pipeline) -> None:
    # Same size, other bytes: only the MD5 can tell.
    archive = one_day.get_bytes(layout.ARCHIVE)[0]
    one_day.put_bytes(layout.ARCHIVE, bytes(reversed(archive)))
    (row,) = run_checks(defs, ["grok_manifest"], resources=pipeline.resources)
    assert row.passed is False
    assert layout.ARCHIVE in row.detail


def test_an_unreachable_bucket_is_an_error_not_a_verdict(
    one_day: S3Store, pipeline: Pipeline
) -> None:
    elsewhere = dataclasses.replace(pipeline, bucket="grok-no-such-bucket")
    rows = run_checks(defs, ["grok_trending_daily"], resources=elsewhere.resources)
    assert [row.passed for row in rows] == [None]
    assert "grok-no-such-bucket" in rows[0].detail


def test_unknown_asset_is_refused() -> None:
    with pytest.raises(UnknownAssetError, match="grok_trending_daily"):
        run_checks(defs, ["no_such_asset"])


def test_cli_check_exit_codes(
    one_day: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"], environ=environ) == 0
    assert "daily_backup_exists" in capsys.readouterr().out

    one_day.delete(layout.daily_backup_key(DAYS[0]))
    assert main(["check", "--select", "grok_trending_daily"], environ=environ) == 1
    out = capsys.readouterr().out
    assert "NO (ERROR)" in out
    assert "manifest_matches_s3" not in out

    assert main(["check", "--select", "no_such_asset"], environ=environ) == 2
