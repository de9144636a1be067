"""The asset graph end to end: the cycle, the gate in all three layers, idempotency."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from grok_assets import layout
from grok_assets.backup.gate import published_selection_date
from grok_assets.backup.restore import restore_daily_backup
from grok_assets.definitions import defs
from grok_assets.defs.resources import SelectorResource, StorageResource
from grok_assets.defs.run import run_quietly
from grok_assets.dev.sample_data import SAMPLE_UNIVERSE, sample_picks
from grok_assets.dev.seeding import seed_sample
from grok_assets.settings import DEFAULT_XAI_MAX_ATTEMPTS, DEFAULT_XAI_TIMEOUT_S
from grok_assets.storage import S3Store, read_parquet, write_parquet
from grok_assets_tests.support import responses_server as srv
from grok_assets_tests.support.pipeline import (
    DAYS,
    Pipeline,
    failed_checks,
    materialized,
    passed_checks,
    started_steps,
)
from grok_assets_tests.support.responses_server import KEY, MODEL, FakeResponses

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(store: S3Store) -> S3Store:
    seed_sample(store, DAYS[0], DAYS[-1])
    return store


@pytest.fixture
def cycled(seeded: S3Store, pipeline: Pipeline) -> S3Store:
    """Three days of the cycle have run; the selection for DAYS[2] is published."""
    pipeline.run_cycle(DAYS[:3])
    return seeded


def object_bytes(store: S3Store, relative_key: str) -> bytes:
    return store.get_bytes(relative_key)[0]


def test_cycle_publishes_backs_up_and_lists_every_file(cycled: S3Store) -> None:
    store = cycled
    assert published_selection_date(store) == DAYS[2].isoformat()
    archive = read_parquet(store, layout.ARCHIVE)
    counts = pc.value_counts(archive.column("backtest_date")).to_pylist()
    assert {c["values"]: c["counts"] for c in counts} == {d.isoformat(): 12 for d in DAYS[:3]}
    for day in DAYS[:3]:
        assert store.exists(layout.daily_backup_key(day))
        assert store.exists(layout.candidates_key(day))

    manifest = json.loads(object_bytes(store, layout.MANIFEST))
    assert manifest["last_updated"].endswith("+09:00")
    listed = manifest["files"]
    for key in (layout.PUBLISHED_SELECTION, layout.ARCHIVE, layout.daily_backup_key(DAYS[2])):
        assert key in listed
    for key, entry in listed.items():
        data = object_bytes(store, key)
        assert entry["md5"] == hashlib.md5(data).hexdigest(), key
        assert entry["size"] == len(data), key
        assert entry["updated_at"].endswith("+09:00")


def test_selection_job_is_blocked_when_the_published_daily_backup_is_missing(
    cycled: S3Store,
    pipeline: Pipeline,
) -> None:
    store = cycled
    published_before = object_bytes(store, layout.PUBLISHED_SELECTION)
    store.delete(layout.daily_backup_key(DAYS[2]))

    result = pipeline.run("selection_job", DAYS[3])

    assert not result.success
    assert failed_checks(result) == ["daily_backup_exists"]
    # Blocked by the check itself, before the asset's own re-check even runs.
    assert "grok_trending" not in started_steps(result)
    assert "grok_trending" not in materialized(result)
    assert object_bytes(store, layout.PUBLISHED_SELECTION) == published_before
    # The model's answer is kept even though its publication was held back.
    assert store.exists(layout.candidates_key(DAYS[3]))


def test_selection_job_is_blocked_when_the_archive_lacks_the_published_date(
    cycled: S3Store,
    pipeline: Pipeline,
) -> None:
    store = cycled
    # Publish day 3 properly, then back it up only as a daily file (no archive rows):
    # the state left by a crash between the daily write and the archive upsert.
    assert pipeline.run("selection_job", DAYS[3]).success
    assert pipeline.run("backtest_job", DAYS[3]).success
    archive = read_parquet(store, layout.ARCHIVE)
    without_day = archive.filter(pc.not_equal(archive.column("backtest_date"), DAYS[3].isoformat()))
    write_parquet(store, layout.ARCHIVE, without_day)
    published_before = object_bytes(store, layout.PUBLISHED_SELECTION)

    result = pipeline.run("selection_job", DAYS[4])

    assert not result.success
    assert failed_checks(result) == ["archive_contains_target_date"]
    assert "grok_trending" not in started_steps(result)
    assert "grok_trending" not in materialized(result)
    assert object_bytes(store, layout.PUBLISHED_SELECTION) == published_before


def test_materializing_grok_trending_alone_reverifies_the_gate(
    cycled: S3Store, pipeline: Pipeline
) -> None:
    store = cycled
    published_before = object_bytes(store, layout.PUBLISHED_SELECTION)
    assert pipeline.materialize_alone("grok_candidates", DAYS[3]).success
    store.delete(layout.daily_backup_key(DAYS[2]))

    result = pipeline.materialize_alone("grok_trending", DAYS[3])

    assert not result.success
    assert failed_checks(result) == []  # no check ran: only the asset's own re-check
    assert "grok_trending" not in materialized(result)
    assert object_bytes(store, layout.PUBLISHED_SELECTION) == published_before
    assert published_selection_date(store) == DAYS[2].isoformat()


def test_gate_opens_again_after_restore(cycled: S3Store, pipeline: Pipeline) -> None:
    store = cycled
    store.delete(layout.daily_backup_key(DAYS[2]))
    assert not pipeline.run("selection_job", DAYS[3]).success

    restored = restore_daily_backup(store, DAYS[2])

    assert restored.written
    result = pipeline.run("selection_job", DAYS[3])
    assert result.success
    assert passed_checks(result) == [
        "archive_contains_target_date",
        "daily_backup_exists",
        "manifest_matches_s3",
        "trading_calendar_horizon",
    ]
    assert published_selection_date(store) == DAYS[3].isoformat()


def test_rerunning_partitions_changes_nothing(cycled: S3Store, pipeline: Pipeline) -> None:
    store = cycled
    watched = [
        layout.PUBLISHED_SELECTION,
        layout.ARCHIVE,
        layout.MANIFEST,
        layout.daily_backup_key(DAYS[2]),
        layout.candidates_key(DAYS[2]),
    ]
    before = {key: store.head(key) for key in watched}

    assert pipeline.run("backtest_job", DAYS[2]).success
    assert pipeline.run("selection_job", DAYS[2]).success
    assert pipeline.run("backtest_job", DAYS[1]).success

    after = {key: store.head(key) for key in watched}
    assert {k: v.etag for k, v in after.items() if v} == {k: v.etag for k, v in before.items() if v}


def test_candidates_are_write_once(seeded: S3Store, pipeline: Pipeline) -> None:
    store = seeded
    assert pipeline.run("selection_job", DAYS[0]).success
    original = object_bytes(store, layout.candidates_key(DAYS[0]))
    # A different recorded answer for the same day must not replace the stored one.
    other_answer = object_bytes(store, layout.replay_answer_key(DAYS[1]))
    store.put_bytes(
        layout.replay_answer_key(DAYS[0]),
        other_answer.replace(DAYS[1].isoformat().encode(), DAYS[0].isoformat().encode()),
    )

    assert pipeline.run("selection_job", DAYS[0]).success
    assert object_bytes(store, layout.candidates_key(DAYS[0])) == original


def test_backtest_upsert_changes_only_its_own_date(cycled: S3Store, pipeline: Pipeline) -> None:
    store = cycled
    before = read_parquet(store, layout.ARCHIVE)
    assert pipeline.run("selection_job", DAYS[3]).success
    assert pipeline.run("backtest_job", DAYS[3]).success
    after = read_parquet(store, layout.ARCHIVE)
    old_dates = pc.is_in(after.column("backtest_date"), before.column("backtest_date").unique())
    assert after.filter(old_dates).to_pylist() == before.to_pylist()
    assert after.num_rows == before.num_rows + 12


def test_publishing_an_older_selection_is_refused(cycled: S3Store, pipeline: Pipeline) -> None:
    store = cycled
    published_before = object_bytes(store, layout.PUBLISHED_SELECTION)
    result = pipeline.materialize_alone("grok_trending", DAYS[1])
    assert not result.success
    assert object_bytes(store, layout.PUBLISHED_SELECTION) == published_before


def test_missing_bucket_setting_fails_the_run_naming_the_variable(
    seeded: S3Store, monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline
) -> None:
    # The code location's own storage, reaching the loopback server but given no bucket,
    # falls back to S3_BUCKET, which is not set: the variable is only removed here, so
    # that one set in the shell cannot stand in for it.
    monkeypatch.delenv("S3_BUCKET", raising=False)
    from_settings = pipeline.resources["storage"]
    no_bucket = StorageResource(s3=from_settings.s3)
    result = run_quietly(
        defs,
        "selection_job",
        day=DAYS[0],
        resources={"storage": no_bucket, "selector": pipeline.selector},
    )
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures
    assert any("S3_BUCKET" in str(e.step_failure_data.error) for e in failures)


def _dagster(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    dagster = Path(sys.executable).with_name("dagster")
    return subprocess.run(
        [str(dagster), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_verify_backups_job_via_the_cli_fails_then_passes_after_restore(
    cycled: S3Store, environ: dict[str, str], tmp_path: Path
) -> None:
    store = cycled
    # Exactly the operator's settings: nothing from this process can point it elsewhere.
    path = os.environ.get("PATH", os.defpath)
    env = {**environ, "PATH": path, "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    command = ["job", "execute", "-m", "grok_assets.definitions", "-j", "verify_backups_job"]

    store.delete(layout.daily_backup_key(DAYS[2]))
    blocked = _dagster(command, env, tmp_path)
    assert blocked.returncode == 1, blocked.stderr[-2000:]
    assert "daily_backup_exists" in blocked.stderr + blocked.stdout

    restore_daily_backup(store, DAYS[2])
    passed = _dagster(command, env, tmp_path)
    assert passed.returncode == 0, passed.stderr[-2000:]


def test_definitions_validate_with_an_empty_environment(tmp_path: Path) -> None:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path)}
    result = _dagster(["definitions", "validate", "-w", str(REPO / "workspace.yaml")], env, REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Validation successful" in result.stderr + result.stdout


def _use_xai(monkeypatch: pytest.MonkeyPatch, fake: FakeResponses, pipeline: Pipeline) -> Pipeline:
    """The pipeline asking the fake xAI server; only the key comes from the environment."""
    monkeypatch.setenv("XAI_API_KEY", KEY)
    selector = SelectorResource(
        kind="xai",
        model=MODEL,
        base_url=fake.base_url,
        timeout_s=DEFAULT_XAI_TIMEOUT_S,
        max_attempts=DEFAULT_XAI_MAX_ATTEMPTS,
    )
    return dataclasses.replace(pipeline, selector=selector)


def test_xai_selector_writes_the_models_picks(
    seeded: S3Store, fake: FakeResponses, monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline
) -> None:
    pipeline = _use_xai(monkeypatch, fake, pipeline)
    fake.script = [srv.grounded(sample_picks(DAYS[0].isoformat(), SAMPLE_UNIVERSE))]

    result = pipeline.materialize_alone("grok_candidates", DAYS[0])

    assert result.success
    assert len(fake.requests) == 1
    prompt = fake.requests[0]["body"]["input"][-1]["content"]
    assert DAYS[0].isoformat() in prompt
    table = read_parquet(seeded, layout.candidates_key(DAYS[0]))
    assert table.num_rows == 12
    # The model as the API returned it, and the answer's id with every row.
    assert set(table.column("model").to_pylist()) == {srv.SERVED_MODEL}
    assert len(set(table.column("response_id").to_pylist())) == 1
    assert all(urls for urls in table.column("evidence_urls").to_pylist())
    assert set(table.column("date").to_pylist()) == {DAYS[0].isoformat()}
    assert seeded.exists(layout.answer_key(DAYS[0]))
    logs = "\n".join(str(event) for event in result.all_events)
    assert KEY not in logs


def test_malformed_model_answer_fails_and_writes_nothing(
    seeded: S3Store, fake: FakeResponses, monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline
) -> None:
    pipeline = _use_xai(monkeypatch, fake, pipeline)
    fake.script = [srv.not_json()]

    result = pipeline.materialize_alone("grok_candidates", DAYS[0])

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert MODEL in str(failure.step_failure_data.error)
    assert not seeded.exists(layout.candidates_key(DAYS[0]))
    assert not seeded.exists(layout.answer_key(DAYS[0]))


def test_an_older_backtest_reruns_while_the_newer_selection_awaits_its_own(
    cycled: S3Store,
    pipeline: Pipeline,
) -> None:
    store = cycled
    assert pipeline.run("selection_job", DAYS[3]).success  # published, backtest not run yet
    store.delete(layout.daily_backup_key(DAYS[1]))

    result = pipeline.run("backtest_job", DAYS[1])

    assert result.success
    assert failed_checks(result) == []
    assert {"grok_trending_daily", "grok_trending_archive", "grok_manifest"} <= materialized(result)
    assert store.exists(layout.daily_backup_key(DAYS[1]))
    # The gate itself still guards the published day, which is not backed up yet.
    assert not pipeline.run("verify_backups_job", None).success
