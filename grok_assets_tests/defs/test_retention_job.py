"""``retention_job`` in Dagster: old, exactly archived files go; the manifest follows."""

from __future__ import annotations

import json

from dagster import DagsterInstance

from grok_assets import layout
from grok_assets.definitions import defs
from grok_assets.defs.run import QUIET_RUN_CONFIG
from grok_assets.dev.seeding import seed_sample
from grok_assets.storage import S3Store, read_parquet
from grok_assets_tests.support.pipeline import DAYS, Pipeline


def run_retention(pipeline: Pipeline, as_of: str) -> bool:
    config = {**QUIET_RUN_CONFIG, "ops": {"apply_retention_window": {"config": {"as_of": as_of}}}}
    result = defs.resolve_job_def("retention_job").execute_in_process(
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config=config,
        resources=pipeline.resources,
    )
    return bool(result.success)


def test_retention_job_deletes_only_archived_old_files_and_updates_the_manifest(
    store: S3Store, pipeline: Pipeline
) -> None:
    seed_sample(store, DAYS[0], DAYS[3])
    pipeline.run_cycle(DAYS[:3])
    # Day 2 also has an old daily file whose rows the archive does not hold.
    unarchived = layout.daily_backup_key(DAYS[1])
    archive_rows = read_parquet(store, layout.ARCHIVE).num_rows

    store.put_bytes(unarchived, store.get_bytes(layout.daily_backup_key(DAYS[0]))[0])
    assert not run_retention(pipeline, "2026-11-27")  # kept files make the run fail loudly

    assert not store.exists(layout.daily_backup_key(DAYS[0]))
    assert not store.exists(layout.candidates_key(DAYS[0]))
    assert store.exists(unarchived)
    # The published day's files stay, and so do the archive and the selection.
    assert store.exists(layout.daily_backup_key(DAYS[2]))
    assert store.exists(layout.PUBLISHED_SELECTION)
    assert read_parquet(store, layout.ARCHIVE).num_rows == archive_rows
    listed = json.loads(store.get_bytes(layout.MANIFEST)[0])["files"]
    assert layout.daily_backup_key(DAYS[0]) not in listed
    assert unarchived in listed


def test_retention_job_passes_when_everything_old_is_archived(
    store: S3Store, pipeline: Pipeline
) -> None:
    seed_sample(store, DAYS[0], DAYS[3])
    pipeline.run_cycle(DAYS[:2])
    # Cutoff 2026-11-17: only the first day is old, and the archive holds it exactly.
    assert run_retention(pipeline, "2026-11-24")
    assert not store.exists(layout.daily_backup_key(DAYS[0]))
    assert not store.exists(layout.candidates_key(DAYS[0]))
    assert store.exists(layout.daily_backup_key(DAYS[1]))
