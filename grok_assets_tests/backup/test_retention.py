"""Retention (``grok-assets cleanup``) against the loopback S3 server.

Old daily backups and candidate files go only when the archive holds exactly their
rows; everything else stays and is reported with the reason.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from grok_assets import layout
from grok_assets.backup.manifest import audit_manifest, updated_manifest
from grok_assets.backup.retention import (
    Action,
    RetentionItem,
    RetentionPlan,
    apply_retention,
    plan_retention,
)
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.cli.main import main
from grok_assets.storage import S3Store, compare_and_swap, read_parquet, write_parquet
from grok_assets_tests.support.factories import (
    backtest_rows,
    publish_selection,
    selection_rows,
    write_daily_backup,
)

AS_OF = "2026-11-30"
AS_OF_DATE = dt.date(2026, 11, 30)
# With the default 7 days, files dated before 2026-11-23 are old.
OLD = ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
RECENT = ("2026-11-24", "2026-11-25")


def day(date: str) -> dt.date:
    return dt.date.fromisoformat(date)


def daily_key(date: str) -> str:
    return layout.daily_backup_key(day(date))


def candidates_key(date: str) -> str:
    return layout.candidates_key(day(date))


def object_keys(store: S3Store) -> set[str]:
    return {info.key for info in store.list()}


def write_candidates(store: S3Store, date: str, count: int = 3) -> pa.Table:
    table = selection_rows(date, count)
    write_parquet(store, candidates_key(date), table)
    return table


def backed_up(store: S3Store, date: str, count: int = 3, *, candidates: bool = True) -> None:
    """A day the pipeline completed: candidates, daily backup, archive rows."""
    if candidates:
        write_candidates(store, date, count)
    write_daily_backup(store, date, count)
    upsert_daily_into_archive(store, date, daily_key(date), keep_generations=False)


def write_manifest(store: S3Store) -> None:
    compare_and_swap(
        store,
        layout.MANIFEST,
        lambda current: updated_manifest(store, current),
        content_type="application/json",
    )


def manifest_files(store: S3Store) -> set[str]:
    data, _ = store.get_bytes(layout.MANIFEST)
    return set(json.loads(data)["files"])


def plan_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("DELETE ", "KEEP ", "GONE "))]


def test_exactly_archived_old_dates_go_and_the_rest_stays(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for date in (*OLD, *RECENT):
        backed_up(store, date)
    publish_selection(store, RECENT[-1])
    write_manifest(store)
    assert {daily_key(date) for date in OLD} <= manifest_files(store)

    code = main(["cleanup", "--as-of", AS_OF], environ=environ)

    out = capsys.readouterr().out
    assert code == 0, out
    gone = {daily_key(date) for date in OLD} | {candidates_key(date) for date in OLD}
    remaining = object_keys(store)
    assert not gone & remaining
    assert {daily_key(date) for date in RECENT} <= remaining
    assert {candidates_key(date) for date in RECENT} <= remaining
    assert {layout.ARCHIVE, layout.MANIFEST, layout.PUBLISHED_SELECTION} <= remaining
    # The archive still holds every date, and the manifest lists what is left.
    archive = read_parquet(store, layout.ARCHIVE)
    assert set(archive.column("backtest_date").to_pylist()) == {*OLD, *RECENT}
    assert manifest_files(store) == {key for key in remaining if key.endswith(".parquet")}
    _, findings = audit_manifest(store)
    assert findings == []
    lines = plan_lines(out)
    assert len(lines) == 2 * len(OLD)
    assert all(line.startswith("DELETE ") for line in lines)
    assert f"DELETE {daily_key(OLD[0])} — the archive holds the same 3 rows for {OLD[0]}" in lines
    assert "deleted 10, kept 0; manifest updated" in out


def test_an_unarchived_old_daily_file_survives(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, OLD[0])
    write_candidates(store, OLD[1])
    write_daily_backup(store, OLD[1], 3)  # never upserted into the archive

    code = main(["cleanup", "--as-of", AS_OF], environ=environ)

    out = capsys.readouterr().out
    assert code == 1, out
    remaining = object_keys(store)
    assert daily_key(OLD[1]) in remaining
    assert candidates_key(OLD[1]) in remaining
    assert daily_key(OLD[0]) not in remaining
    assert f"KEEP {daily_key(OLD[1])} — the archive holds no rows for {OLD[1]}" in out
    assert f"KEEP {candidates_key(OLD[1])} — the daily backup for {OLD[1]} is kept" in out


def test_without_any_archive_nothing_is_deleted(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    write_candidates(store, OLD[0])
    write_daily_backup(store, OLD[0])
    before = object_keys(store)

    assert main(["cleanup", "--as-of", AS_OF], environ=environ) == 1

    assert object_keys(store) == before
    assert f"there is no archive {layout.ARCHIVE}" in capsys.readouterr().out


def test_a_partially_archived_date_survives(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, OLD[0], 3)
    # The daily file gained a fourth row the archive never received.
    write_daily_backup(store, OLD[0], 4)

    code = main(["cleanup", "--as-of", AS_OF], environ=environ)

    out = capsys.readouterr().out
    assert code == 1, out
    assert {daily_key(OLD[0]), candidates_key(OLD[0])} <= object_keys(store)
    assert (
        f"KEEP {daily_key(OLD[0])} — the archive holds 3 rows for {OLD[0]}, the daily file 4" in out
    )


def test_same_row_count_with_different_values_survives(store: S3Store) -> None:
    backed_up(store, OLD[0], 3)
    write_daily_backup(store, OLD[0], 3, variant=1)

    plan = plan_retention(store, AS_OF_DATE)

    by_key = {item.key: item for item in plan.items}
    assert by_key[daily_key(OLD[0])].action is Action.KEEP
    assert "differ from the daily file's" in by_key[daily_key(OLD[0])].reason


def test_row_order_does_not_matter(store: S3Store) -> None:
    backed_up(store, OLD[0], 4)
    rows = backtest_rows(OLD[0], 4)
    write_parquet(store, daily_key(OLD[0]), rows.take([3, 1, 0, 2]))

    plan = plan_retention(store, AS_OF_DATE)

    assert {item.key for item in plan.to_delete} == {daily_key(OLD[0]), candidates_key(OLD[0])}


def test_candidates_stay_when_a_ticker_is_missing_from_the_archive(store: S3Store) -> None:
    # The archive's rows come from a backup without the candidates' third ticker.
    write_daily_backup(store, OLD[0], 2)
    upsert_daily_into_archive(store, OLD[0], daily_key(OLD[0]), keep_generations=False)
    store.delete(daily_key(OLD[0]))
    write_candidates(store, OLD[0], 3)

    plan = plan_retention(store, AS_OF_DATE)

    (item,) = plan.items
    assert item.key == candidates_key(OLD[0])
    assert item.action is Action.KEEP
    assert "1 of 3 candidates are not in the archive's rows" in item.reason
    assert "1302.T" in item.reason


def test_the_published_selections_files_are_never_deleted(store: S3Store) -> None:
    # The pipeline stalled: the published selection is older than the window.
    backed_up(store, OLD[0])
    backed_up(store, OLD[1])
    publish_selection(store, OLD[1])

    outcome = apply_retention(store, plan_retention(store, AS_OF_DATE))

    assert set(outcome.deleted) == {daily_key(OLD[0]), candidates_key(OLD[0])}
    remaining = object_keys(store)
    # The gate needs the published day's backup before the next selection may publish.
    assert {daily_key(OLD[1]), candidates_key(OLD[1]), layout.PUBLISHED_SELECTION} <= remaining


def test_dry_run_deletes_nothing_and_prints_the_same_plan(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for date in OLD[:3]:
        backed_up(store, date)
    write_daily_backup(store, OLD[1], 4)  # partially archived
    write_daily_backup(store, OLD[3])  # not archived
    backed_up(store, RECENT[0])
    write_manifest(store)
    before = {info.key: info.etag for info in store.list()}

    assert main(["cleanup", "--as-of", AS_OF, "--dry-run"], environ=environ) == 1

    dry = capsys.readouterr().out
    assert {info.key: info.etag for info in store.list()} == before
    assert "nothing was deleted" in dry

    assert main(["cleanup", "--as-of", AS_OF], environ=environ) == 1

    real = capsys.readouterr().out
    assert plan_lines(dry) == plan_lines(real)
    assert len([line for line in plan_lines(real) if line.startswith("DELETE ")]) == 4
    assert len([line for line in plan_lines(real) if line.startswith("KEEP ")]) == 3
    assert not {daily_key(OLD[0]), daily_key(OLD[2])} & object_keys(store)


def test_days_widens_the_window(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    backed_up(store, OLD[0])

    assert main(["cleanup", "--as-of", AS_OF, "--days", "30"], environ=environ) == 0

    assert daily_key(OLD[0]) in object_keys(store)
    assert "2 within the window" in capsys.readouterr().out


def test_as_of_defaults_to_today_in_tokyo(
    store: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Long before any default "today": old for every run of this suite.
    backed_up(store, "2024-06-03")

    assert main(["cleanup"], environ=environ) == 0

    assert daily_key("2024-06-03") not in object_keys(store)
    assert "DELETE" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["0", "-3", "seven"])
def test_bad_days_is_a_usage_error(environ: dict[str, str], bad: str) -> None:
    assert main(["cleanup", "--as-of", AS_OF, "--days", bad], environ=environ) == 2


def test_apply_rechecks_against_the_archive_of_the_moment(store: S3Store) -> None:
    backed_up(store, OLD[0])
    plan = plan_retention(store, AS_OF_DATE)
    assert {item.key for item in plan.to_delete} == {daily_key(OLD[0]), candidates_key(OLD[0])}
    # Between plan and apply another run rewrites the archive's rows for the date.
    write_daily_backup(store, OLD[0], 3, variant=2)
    upsert_daily_into_archive(store, OLD[0], daily_key(OLD[0]), keep_generations=False)
    write_parquet(store, daily_key(OLD[0]), backtest_rows(OLD[0], 3))

    outcome = apply_retention(store, plan)

    assert outcome.deleted == []
    assert {daily_key(OLD[0]), candidates_key(OLD[0])} <= object_keys(store)
    assert all(
        line.startswith("KEEP ") and "changed since the plan" in line for line in outcome.lines()
    )


def test_protected_keys_are_never_deleted_even_by_a_forged_plan(store: S3Store) -> None:
    backed_up(store, OLD[0])
    publish_selection(store, RECENT[0])
    write_manifest(store)
    forged = RetentionPlan(
        as_of=AS_OF_DATE,
        days=7,
        published_date=None,
        items=tuple(
            RetentionItem(key, "daily", day(OLD[0]), Action.DELETE, "forged")
            for key in (
                layout.ARCHIVE,
                layout.MANIFEST,
                layout.PUBLISHED_SELECTION,
                layout.PRICES_DAILY,
            )
        ),
        within_window=0,
    )

    outcome = apply_retention(store, forged)

    assert outcome.deleted == []
    assert {layout.ARCHIVE, layout.MANIFEST, layout.PUBLISHED_SELECTION} <= object_keys(store)


def test_files_outside_the_two_patterns_are_not_considered(store: S3Store) -> None:
    backed_up(store, OLD[0])
    stray = "backtest/grok_trending_2026111.parquet"
    write_parquet(store, stray, backtest_rows(OLD[0]))
    store.put_bytes(layout.replay_answer_key(day(OLD[0])), b"{}")

    plan = plan_retention(store, AS_OF_DATE)

    assert {item.key for item in plan.items} == {daily_key(OLD[0]), candidates_key(OLD[0])}
    apply_retention(store, plan)
    assert {stray, layout.replay_answer_key(day(OLD[0])), layout.ARCHIVE} <= object_keys(store)
