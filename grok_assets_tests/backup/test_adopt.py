"""``grok-assets adopt`` on a bucket as the previous pipeline left it: nothing lost, nothing
changed that is not said, and nothing written when anything cannot be mapped."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from grok_assets import layout, trading_calendar
from grok_assets.backup.fsck import ARCHIVE, run_fsck
from grok_assets.backup.generations import list_generations
from grok_assets.backup.restore import restore_daily_backup
from grok_assets.backup.retention import Action, plan_retention
from grok_assets.cli.args import EXIT_FINDING, EXIT_OK
from grok_assets.cli.main import main
from grok_assets.selection.feedback import load_feedback
from grok_assets.storage import S3Store
from grok_assets_tests.support.upstream_bucket import (
    LAST_DAY,
    OTHER_FILES,
    TOP_LEVEL,
    UpstreamBucket,
    build_upstream_bucket,
)

Snapshot = dict[str, tuple[str, dict[str, str]]]


@pytest.fixture
def upstream(store: S3Store) -> UpstreamBucket:
    return build_upstream_bucket(store)


def snapshot(store: S3Store) -> Snapshot:
    """Every object's ETag and metadata: what a write of any kind would change."""
    found: Snapshot = {}
    for info in store.list():
        head = store.client.head_object(Bucket=store.bucket, Key=store.location.key(info.key))
        found[info.key] = (str(head["ETag"]), dict(head.get("Metadata") or {}))
    return found


def raw(store: S3Store, relative_key: str) -> bytes:
    body = store.client.get_object(Bucket=store.bucket, Key=store.location.key(relative_key))
    return bytes(body["Body"].read())


def adopt(
    environ: dict[str, str], *flags: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    code = main(["adopt", *flags], environ=environ)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _key(table: pa.Table) -> list[tuple[str, str]]:
    return list(
        zip(
            table.column("backtest_date").to_pylist(),
            table.column("ticker").to_pylist(),
            strict=True,
        )
    )


def test_a_dry_run_prints_the_plan_and_changes_nothing(
    upstream: UpstreamBucket,
    store: S3Store,
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = snapshot(store)
    code, said = adopt(environ, "--dry-run", capsys=capsys)
    assert code == EXIT_OK
    assert "convert" in said and layout.ARCHIVE in said
    assert "add MD5 metadata" in said and "rewrite" in said
    assert "company_name merged into stock_name" in said
    assert "dry run: nothing was changed" in said
    assert snapshot(store) == before


def test_every_row_column_and_value_survives_the_conversion(
    upstream: UpstreamBucket,
    store: S3Store,
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = pq.read_table(io.BytesIO(raw(store, layout.ARCHIVE)))
    code, _ = adopt(environ, capsys=capsys)
    assert code == EXIT_OK

    adopted = pq.read_table(io.BytesIO(raw(store, layout.ARCHIVE)))
    assert adopted.num_rows == original.num_rows == upstream.archive.num_rows
    assert adopted.schema.field("backtest_date").type == pa.string()
    assert "company_name" not in adopted.schema.names
    assert "categories" not in adopted.schema.names
    dates = adopted.column("backtest_date").to_pylist()
    assert dates == sorted(dates)
    by_key = {key: row for key, row in zip(_key(adopted), adopted.to_pylist(), strict=True)}
    assert len(by_key) == adopted.num_rows
    for row in original.to_pylist():
        kept = by_key[(row["backtest_date"], row["ticker"])]
        for column, value in row.items():
            if column == "company_name":
                assert kept["stock_name"] == (row["stock_name"] or value)
            elif column == "categories":
                assert kept["category"] == (
                    row["category"] if row["category"] is not None else value
                )
            elif column != "stock_name" and column != "category":
                assert kept[column] == value or (value != value and kept[column] != kept[column])
    # The columns only some rows have are still there, with their values.
    assert (
        pc.sum(pc.is_valid(adopted.column("market_cap"))).as_py()
        == pc.sum(pc.is_valid(original.column("market_cap"))).as_py()
        > 0
    )


def test_the_original_archive_is_kept_as_a_generation_and_everything_gets_its_md5(
    upstream: UpstreamBucket,
    store: S3Store,
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = raw(store, layout.ARCHIVE)
    daily_before = {key: raw(store, key) for key in upstream.daily_keys}
    selection_before = raw(store, layout.PUBLISHED_SELECTION)

    assert adopt(environ, capsys=capsys)[0] == EXIT_OK

    (generation,) = list_generations(store)
    assert raw(store, generation.key) == original
    for key, data in daily_before.items():
        assert raw(store, key) == data
        assert store.head(key).md5 == hashlib.md5(data).hexdigest()  # type: ignore[union-attr]
    assert raw(store, layout.PUBLISHED_SELECTION) == selection_before
    assert store.head(layout.PUBLISHED_SELECTION).md5 == hashlib.md5(selection_before).hexdigest()  # type: ignore[union-attr]
    assert store.head(layout.ARCHIVE).md5 == hashlib.md5(raw(store, layout.ARCHIVE)).hexdigest()  # type: ignore[union-attr]


def test_the_manifest_becomes_the_superset_of_both_formats(
    upstream: UpstreamBucket,
    store: S3Store,
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert adopt(environ, capsys=capsys)[0] == EXIT_OK

    manifest = json.loads(raw(store, layout.MANIFEST))
    for name, value in TOP_LEVEL.items():
        assert manifest[name] == value
    assert manifest["last_updated"].endswith("+09:00")
    files = manifest["files"]
    for name, exists in OTHER_FILES.items():
        if not exists:
            assert files[name] == {"exists": False}
    listed = [info.key for info in store.list() if layout.is_tracked(info.key)]
    assert set(listed) <= set(files)
    for key in listed:
        entry, data = files[key], raw(store, key)
        assert entry["md5"] == hashlib.md5(data).hexdigest()
        assert entry["size"] == entry["size_bytes"] == len(data)
        assert entry["exists"] is True and entry["updated_at"].endswith("+09:00")
        assert entry["row_count"] == pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        assert entry["columns"] == pq.ParquetFile(io.BytesIO(data)).schema_arrow.names
    assert main(["fsck"], environ=environ) == EXIT_OK


def test_a_second_adoption_finds_nothing_to_do(
    upstream: UpstreamBucket,
    store: S3Store,
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert adopt(environ, capsys=capsys)[0] == EXIT_OK
    before = snapshot(store)
    code, said = adopt(environ, capsys=capsys)
    assert code == EXIT_OK
    assert "nothing to do" in said
    assert snapshot(store) == before


def _rewrite_archive(store: S3Store, change: Any) -> None:
    table = pq.read_table(io.BytesIO(raw(store, layout.ARCHIVE)))
    sink = io.BytesIO()
    pq.write_table(change(table), sink)
    store.client.put_object(
        Bucket=store.bucket, Key=store.location.key(layout.ARCHIVE), Body=sink.getvalue()
    )


def _repeat_a_row(table: pa.Table) -> pa.Table:
    return pa.concat_tables([table, table.slice(0, 1)])


def _numbers_as_dates(table: pa.Table) -> pa.Table:
    index = table.schema.get_field_index("backtest_date")
    numbers = pc.cast(pc.replace_substring(table.column(index), "-", ""), pa.int64())
    return table.set_column(index, "backtest_date", numbers)


def _two_names_for_one_row(table: pa.Table) -> pa.Table:
    names = table.column("stock_name").to_pylist()
    names[0] = "a different name"  # row 0 also has its company_name
    index = table.schema.get_field_index("stock_name")
    return table.set_column(index, "stock_name", pa.array(names, table.schema.field(index).type))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_repeat_a_row, "more than one row for the same backtest_date and ticker"),
        (_numbers_as_dates, "'backtest_date' is int64"),
        (_two_names_for_one_row, "'company_name' and 'stock_name'"),
    ],
    ids=["duplicate row", "unknown date type", "a value that would change"],
)
def test_what_cannot_be_mapped_stops_it_before_any_write(
    upstream: UpstreamBucket,
    store: S3Store,
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    change: Any,
    named: str,
) -> None:
    _rewrite_archive(store, change)
    before = snapshot(store)
    code, said = adopt(environ, capsys=capsys)
    assert code == EXIT_FINDING
    assert named in said and store.uri(layout.ARCHIVE) in said
    assert "nothing was changed" in said
    assert snapshot(store) == before


def test_before_adoption_the_gate_and_the_upsert_already_read_the_bucket(
    upstream: UpstreamBucket, store: S3Store, environ: dict[str, str]
) -> None:
    # pandas 3's large_string archive, date32 daily files: verify reads them as they are.
    assert main(["verify", "--date", LAST_DAY.strftime("%Y%m%d")], environ=environ) == EXIT_OK
    october = layout.daily_backup_key(dt.date(2025, 10, 30))
    assert (
        pq.ParquetFile(io.BytesIO(raw(store, october))).schema_arrow.field("backtest_date").type
        == pa.date32()
    )
    assert main(["verify", "--date", "20251030"], environ=environ) == EXIT_OK


def test_before_adoption_fsck_retention_restore_and_feedback_read_the_old_shapes(
    upstream: UpstreamBucket, store: S3Store
) -> None:
    # Daily files of pandas 2 and 3, date32 dates, company_name: the archive holds each
    # one's rows, whatever the spelling.
    findings = run_fsck(store)
    assert [finding.line() for finding in findings if finding.kind == ARCHIVE] == []

    plan = plan_retention(store, LAST_DAY + dt.timedelta(days=30))
    decided = {item.key: item for item in plan.items}
    october = layout.daily_backup_key(dt.date(2025, 10, 30))
    assert decided[october].action is Action.DELETE, decided[october].reason
    assert all(
        item.action is Action.DELETE
        for key, item in decided.items()
        if key != layout.daily_backup_key(LAST_DAY)
    )

    lost = dt.date(2025, 11, 20)
    store.delete(layout.daily_backup_key(lost))
    restored = restore_daily_backup(store, lost)
    assert (
        restored.written
        and restored.rows
        == upstream.archive.filter(
            pc.equal(upstream.archive.column("backtest_date"), lost.isoformat())
        ).num_rows
    )

    feedback = load_feedback(store, trading_calendar.next_trading_day(LAST_DAY))
    assert feedback is not None and feedback.rows > 0
    assert all(pick.code and pick.code.isalnum() for pick in feedback.top_picks)
