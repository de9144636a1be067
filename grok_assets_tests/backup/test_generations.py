"""Archive generations: kept before each archive write, pruned after the retention
window (never the newest few), restored only after verification."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow.compute as pc
import pytest

from grok_assets import layout
from grok_assets.backup.fsck import run_fsck
from grok_assets.backup.generations import (
    KEEP_NEWEST,
    InvalidGenerationError,
    generation_key,
    keep_generation,
    list_generations,
    prune_generations,
    verify_generation,
)
from grok_assets.backup.restore import RestoreRefusedError, restore_archive_generation
from grok_assets.cli.args import EXIT_ERROR, EXIT_FINDING, EXIT_OK
from grok_assets.cli.main import main
from grok_assets.storage import S3Store, encode_parquet, md5_hex, read_parquet, write_parquet
from grok_assets_tests.support.factories import selection_rows
from grok_assets_tests.support.harness import (
    archive_rows,
    manifest_violations,
    run_fast,
)
from grok_assets_tests.support.pipeline import DAYS


def archive_bytes(store: S3Store) -> bytes:
    return store.get_bytes(layout.ARCHIVE)[0]


def test_each_archive_write_keeps_the_previous_archive_first(two_days: S3Store) -> None:
    # The template's second backtest already replaced the first day's archive.
    (first,) = list_generations(two_days)
    assert {row[0] for row in archive_rows_of(two_days, first.key)} == {DAYS[0].isoformat()}
    before = archive_bytes(two_days)

    assert run_fast(two_days, "selection_job", DAYS[2]).success
    result = run_fast(two_days, "backtest_job", DAYS[2])

    assert result.success
    generations = list_generations(two_days)
    assert [g.key for g in generations][:-1] == [first.key]
    newest = generations[-1]
    assert two_days.get_bytes(newest.key)[0] == before
    assert newest.md5_prefix == md5_hex(before)[:8]
    (archive_event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "grok_trending_archive"
    ]
    metadata = archive_event.step_materialization_data.materialization.metadata
    assert metadata["previous_kept_as_generation"].value == newest.id
    # Generations are parquet files: listed by the manifest, clean for fsck.
    listed = json.loads(two_days.get_bytes(layout.MANIFEST)[0])["files"]
    assert newest.key in listed
    assert manifest_violations(two_days) == []
    assert run_fsck(two_days) == []


def test_a_rerun_that_changes_nothing_keeps_no_generation(two_days: S3Store) -> None:
    before = list_generations(two_days)
    assert run_fast(two_days, "backtest_job", DAYS[1]).success
    assert list_generations(two_days) == before


def archive_rows_of(store: S3Store, relative_key: str) -> set[tuple[str, str]]:
    table = read_parquet(store, relative_key)
    return set(
        zip(
            table.column("backtest_date").to_pylist(),
            table.column("ticker").to_pylist(),
            strict=True,
        )
    )


def test_restore_brings_back_a_generation_after_a_bad_write(
    two_days: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    good = archive_bytes(two_days)
    # What every archive write through the pipeline does first.
    good_generation, _ = keep_generation(two_days, good)
    # Then a bad write the upsert could not see: the same dates, wrong values.
    table = read_parquet(two_days, layout.ARCHIVE)
    index = table.schema.get_field_index("buy_price")
    doubled = pc.multiply(table.column(index), 2.0)
    write_parquet(two_days, layout.ARCHIVE, table.set_column(index, "buy_price", doubled))
    bad = archive_bytes(two_days)

    command = ["restore", "--archive-generation", good_generation.id]
    assert main(command, environ=environ) == EXIT_OK

    out = capsys.readouterr().out
    assert archive_bytes(two_days) == good
    assert f"generation {good_generation.id}" in out
    # The bad archive was kept too: a restore can be undone the same way.
    kept = [g for g in list_generations(two_days) if two_days.get_bytes(g.key)[0] == bad]
    assert len(kept) == 1 and kept[0].id in out
    assert manifest_violations(two_days) == []
    assert run_fsck(two_days) == []


def test_restore_replaces_an_archive_whose_bytes_no_longer_match_their_md5(
    two_days: S3Store, s3_client: Any
) -> None:
    good = archive_bytes(two_days)
    generation, _ = keep_generation(two_days, good)
    head = two_days.head(layout.ARCHIVE)
    assert head is not None
    rotten = good[:200] + b"\x00" * 64 + good[264:]
    s3_client.put_object(
        Bucket=two_days.bucket,
        Key=two_days.location.key(layout.ARCHIVE),
        Body=rotten,
        Metadata={"md5": head.md5 or ""},
    )

    outcome = restore_archive_generation(two_days, generation.id)

    assert outcome.written and archive_bytes(two_days) == good
    kept = two_days.get_bytes(generation_key(outcome.previous_generation or ""))[0]
    assert kept == rotten  # kept as evidence, under its own (true) MD5


def test_restore_refuses_to_drop_dates_unless_told(
    two_days: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    (one_day,) = list_generations(two_days)  # holds DAYS[0] only
    current = archive_bytes(two_days)

    command = ["restore", "--archive-generation", one_day.id]
    assert main(command, environ=environ) == EXIT_FINDING
    assert DAYS[1].isoformat() in capsys.readouterr().err
    assert archive_bytes(two_days) == current

    outcome = restore_archive_generation(two_days, one_day.id, allow_dropping_dates=True)

    assert outcome.written and outcome.dropped_dates == (DAYS[1].isoformat(),)
    assert {row[0] for row in archive_rows(two_days)} == {DAYS[0].isoformat()}
    assert two_days.get_bytes(generation_key(outcome.previous_generation or ""))[0] == current


def test_restoring_the_current_archive_writes_nothing(two_days: S3Store) -> None:
    generation, _ = keep_generation(two_days, archive_bytes(two_days))
    head = two_days.head(layout.ARCHIVE)
    outcome = restore_archive_generation(two_days, generation.id)
    assert not outcome.written
    assert two_days.head(layout.ARCHIVE) == head


def test_a_generation_whose_bytes_were_altered_is_refused(
    two_days: S3Store, s3_client: Any
) -> None:
    (generation,) = list_generations(two_days)
    data = two_days.get_bytes(generation.key)[0]
    altered = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    s3_client.put_object(
        Bucket=two_days.bucket,
        Key=two_days.location.key(generation.key),
        Body=altered,
        Metadata={"md5": md5_hex(data)},
    )
    current = archive_bytes(two_days)

    with pytest.raises(RestoreRefusedError, match="does not match its recorded MD5"):
        restore_archive_generation(two_days, generation.id, allow_dropping_dates=True)

    assert archive_bytes(two_days) == current


@pytest.mark.parametrize("content", ["not-parquet", "wrong-schema", "no-md5"])
def test_a_generation_that_is_not_a_verified_archive_is_refused(
    content: str, two_days: S3Store, s3_client: Any
) -> None:
    data = {
        "not-parquet": b"PAR1 garbage, not a parquet file",
        "wrong-schema": encode_parquet(selection_rows("2026-11-16")),
        "no-md5": archive_bytes(two_days),
    }[content]
    generation_id = f"20261116T070000000000Z_{md5_hex(data)[:8]}"
    key = two_days.location.key(generation_key(generation_id))
    if content == "no-md5":
        s3_client.put_object(Bucket=two_days.bucket, Key=key, Body=data)
    else:
        two_days.put_bytes(generation_key(generation_id), data)
    current = archive_bytes(two_days)

    with pytest.raises(InvalidGenerationError) as caught:
        verify_generation(two_days, generation_id)
    with pytest.raises(RestoreRefusedError):
        restore_archive_generation(two_days, generation_id, allow_dropping_dates=True)

    assert two_days.uri(generation_key(generation_id)) in str(caught.value)
    assert archive_bytes(two_days) == current


def test_an_unknown_or_malformed_generation_is_refused(
    two_days: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = ["restore", "--archive-generation", "20261116T070000000000Z_00000000"]
    assert main(unknown, environ=environ) == EXIT_FINDING
    assert "there is no archive generation" in capsys.readouterr().err
    for text in ("latest", "../../manifest.json", "20261332T070000000000Z_00000000"):
        assert main(["restore", "--archive-generation", text], environ=environ) == EXIT_ERROR
        assert repr(text) in capsys.readouterr().err


def test_generations_are_listed_by_the_cli(
    two_days: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    (generation,) = list_generations(two_days)
    assert main(["generations"], environ=environ) == EXIT_OK
    out = capsys.readouterr().out
    assert generation.id in out and "1 archive generation(s)" in out


def test_pruning_keeps_the_window_and_always_the_newest_few(store: S3Store) -> None:
    now = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)
    ages = [30, 20, 10, 9, 8, 6, 1]  # days
    for number, age in enumerate(ages):
        keep_generation(store, f"archive version {number}".encode(), now - dt.timedelta(days=age))
    assert len(list_generations(store)) == len(ages)

    deleted = prune_generations(store, now)

    # Within the 7-day window: 6 and 1 days old; the newest three are kept anyway.
    remaining = list_generations(store)
    assert [(now - g.created).days for g in remaining] == [8, 6, 1]
    assert len(deleted) == len(ages) - 3
    # Long after the last write, the newest few survive however old they are ...
    assert prune_generations(store, now + dt.timedelta(days=365)) == []
    # ... and older ones still go.
    for number in range(2):
        keep_generation(store, f"older {number}".encode(), now - dt.timedelta(days=100 + number))
    assert len(prune_generations(store, now + dt.timedelta(days=365))) == 2
    assert list_generations(store) == remaining
    assert len(remaining) == KEEP_NEWEST


def test_the_same_bytes_are_kept_once(store: S3Store) -> None:
    first, written = keep_generation(store, b"the same archive")
    again, written_again = keep_generation(store, b"the same archive")
    assert written and not written_again and again == first
    assert [info.key for info in store.list(layout.GENERATIONS_DIR)] == [first.key]


def test_fsck_knows_generations_and_leftover_probes_with_an_unusable_manifest(
    two_days: S3Store,
) -> None:
    from grok_assets.backup.fsck import UNREFERENCED

    two_days.put_bytes(f"{layout.PROBE_DIR}left-by-a-killed-run", b"probe")
    two_days.put_bytes(layout.MANIFEST, b"{not json")

    unknown = [f.key for f in run_fsck(two_days) if f.kind == UNREFERENCED]

    assert unknown == []
