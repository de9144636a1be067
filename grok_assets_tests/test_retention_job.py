"""``retention_job`` in Dagster: old, exactly archived files go; the manifest follows."""

from __future__ import annotations

import json

from dagster import DagsterInstance

from grok_assets import keys
from grok_assets.definitions import defs
from grok_assets.seeding import seed_sample
from grok_assets.storage import S3Store
from grok_assets_tests.pipeline import DAYS, QUIET, run_cycle


def run_retention(as_of: str) -> bool:
    config = {**QUIET, "ops": {"apply_retention_window": {"config": {"as_of": as_of}}}}
    result = defs.resolve_job_def("retention_job").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False, run_config=config
    )
    return bool(result.success)


def test_retention_job_deletes_only_archived_old_files_and_updates_the_manifest(
    store: S3Store,
) -> None:
    seed_sample(store, DAYS[0], DAYS[3])
    run_cycle(DAYS[:3])
    # Day 2 also has an old daily file whose rows the archive does not hold.
    unarchived = keys.daily_backup_key(DAYS[1])
    archive_rows = store.read_parquet(keys.ARCHIVE).num_rows

    store.put_bytes(unarchived, store.get_bytes(keys.daily_backup_key(DAYS[0]))[0])
    assert not run_retention("2026-11-27")  # kept files make the run fail loudly

    assert not store.exists(keys.daily_backup_key(DAYS[0]))
    assert not store.exists(keys.candidates_key(DAYS[0]))
    assert store.exists(unarchived)
    # The published day's files stay, and so do the archive and the selection.
    assert store.exists(keys.daily_backup_key(DAYS[2]))
    assert store.exists(keys.PUBLISHED_SELECTION)
    assert store.read_parquet(keys.ARCHIVE).num_rows == archive_rows
    listed = json.loads(store.get_bytes(keys.MANIFEST)[0])["files"]
    assert keys.daily_backup_key(DAYS[0]) not in listed
    assert unarchived in listed


def test_retention_job_passes_when_everything_old_is_archived(store: S3Store) -> None:
    seed_sample(store, DAYS[0], DAYS[3])
    run_cycle(DAYS[:2])
    # Cutoff 2026-11-17: only the first day is old, and the archive holds it exactly.
    assert run_retention("2026-11-24")
    assert not store.exists(keys.daily_backup_key(DAYS[0]))
    assert not store.exists(keys.candidates_key(DAYS[0]))
    assert store.exists(keys.daily_backup_key(DAYS[1]))
