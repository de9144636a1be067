"""What each alert says, composed from plain values (the sensor tests compose them from
real runs)."""

from __future__ import annotations

import pytest

from grok_assets.alerts.failure import FailedCheck, FailedStep, RunFailure
from grok_assets.alerts.kinds import FailureKind
from grok_assets.alerts.messages import compose_failure_alert, compose_horizon_alert

LAUNCH = "dagster job launch -w deploy/workspace.yaml -j"


def gate_check(name: str, *, daily_rows: int, archive_rows: int) -> FailedCheck:
    asset = "grok_trending_daily" if name == "daily_backup_exists" else "grok_trending_archive"
    return FailedCheck(
        asset=asset,
        check=name,
        description=(
            "daily backup backtest/grok_trending_20261120.parquet is missing; "
            f"archive holds {archive_rows} rows for 2026-11-20"
        ),
        metadata={
            "target_date": "2026-11-20",
            "daily_rows": daily_rows,
            "archive_rows": archive_rows,
        },
    )


def blocked(archive_rows: int) -> RunFailure:
    checks = [gate_check("daily_backup_exists", daily_rows=-1, archive_rows=archive_rows)]
    if not archive_rows:
        checks.append(
            gate_check("archive_contains_target_date", daily_rows=-1, archive_rows=archive_rows)
        )
    return RunFailure(
        job="selection_job", run_id="0123456789abcdef", partition="2026-11-24", checks=tuple(checks)
    )


def test_a_blocked_selection_is_one_clear_message_with_the_restore_command() -> None:
    text = compose_failure_alert(blocked(archive_rows=15))

    headline, where, *_ = text.splitlines()
    assert "selection_job for 2026-11-24 is BLOCKED by the backup gate" in headline
    assert where == "job selection_job, partition 2026-11-24, run 01234567"
    assert "grok_trending.parquet still holds 2026-11-20, which is not backed up" in text
    assert "daily_backup_exists (grok_trending_daily): daily backup" in text
    assert "`grok-assets restore --date 20261120`" in text
    assert f'`{LAUNCH} selection_job --tags \'{{"dagster/partition": "2026-11-24"}}\'`' in text
    assert "Traceback" not in text and "Stack Trace" not in text


def test_a_blocked_selection_whose_archive_lacks_the_day_names_the_backtest_to_run() -> None:
    text = compose_failure_alert(blocked(archive_rows=0))
    assert "restore" not in text
    assert f'{LAUNCH} backtest_job --tags \'{{"dagster/partition": "2026-11-20"}}\'' in text
    # One problem, however many gate checks found it.
    assert text.count("BLOCKED") == 1


def test_lateness_says_what_is_late_and_which_run_makes_it_right() -> None:
    archive = FailedCheck(
        "grok_trending_archive",
        "archive_fresh",
        "LATE: the archive holds no rows for 2026-11-30, due by 2026-11-30 17:00 Tokyo",
        {"due_date": "2026-11-30"},
    )
    selection = FailedCheck(
        "grok_trending",
        "selection_fresh",
        "LATE: grok_trending.parquet holds 2026-11-27, not 2026-11-30",
        {"due_date": "2026-11-30"},
    )
    text = compose_failure_alert(
        RunFailure("freshness_job", "feedfacefeedface", None, checks=(archive, selection))
    )
    assert text.startswith(":alarm_clock: *LATE: the archive does not hold 2026-11-30*")
    assert "job freshness_job, run feedface" in text
    assert f"{LAUNCH} backtest_job --tags" in text
    assert "*LATE: grok_trending.parquet does not hold 2026-11-30*" in text
    assert f"{LAUNCH} selection_job --tags" in text


def test_the_gate_leads_when_a_run_is_both_blocked_and_late() -> None:
    late = FailedCheck("grok_trending", "selection_fresh", "LATE: ...", {"due_date": "2026-11-24"})
    failure = blocked(archive_rows=15)
    failure = RunFailure(failure.job, failure.run_id, failure.partition, (late, *failure.checks))
    assert compose_failure_alert(failure).startswith(":no_entry: *selection_job for 2026-11-24")


def step(kind: FailureKind | None, message: str, attempts: int = 1) -> RunFailure:
    failed = FailedStep(
        step="grok_candidates",
        kind=kind.value if kind else None,
        error="Failure" if kind else "StorageError",
        message=message,
        attempts=attempts,
        metadata={"target_date": "2026-11-20"},
    )
    return RunFailure("selection_job", "abcdef0123456789", "2026-11-24", steps=(failed,))


@pytest.mark.parametrize("kind", list(FailureKind))
def test_every_kind_of_failure_has_its_own_words_and_a_command(kind: FailureKind) -> None:
    text = compose_failure_alert(step(kind, "what the step said", attempts=4))
    # Not the catch-all for failures nobody classified.
    assert "failed at grok_candidates" not in text or kind is FailureKind.UNEXPECTED
    assert "what the step said" in text
    assert "Fix: " in text and "`" in text


def test_an_invalid_model_answer_says_nothing_was_written_and_to_ask_again() -> None:
    text = compose_failure_alert(
        step(FailureKind.INVALID_ANSWER, "ModelAnswerError: item 3 has no reason")
    )
    assert "the model's answer for 2026-11-24 is not a valid selection; nothing was written" in text
    assert "item 3 has no reason" in text
    assert f"ask again: `{LAUNCH} selection_job" in text


def test_a_transient_failure_that_outlasted_its_retries_says_so() -> None:
    text = compose_failure_alert(step(None, "StorageError: S3 answered InternalError", attempts=4))
    assert "S3 kept failing at grok_candidates after 4 attempts" in text


def test_an_unclassified_failure_points_at_the_runs_event_log() -> None:
    text = compose_failure_alert(step(None, "KeyError: 'ticker'"))
    assert "failed at grok_candidates" in text
    assert "run abcdef0123456789" in text


def test_long_findings_are_cut() -> None:
    text = compose_failure_alert(step(FailureKind.BAD_DATA, "x" * 5000))
    assert max(len(line) for line in text.splitlines()) < 600


def test_the_calendar_warning_names_the_upgrade() -> None:
    text = compose_horizon_alert(
        "the JPX calendar ends 2027-12-01, only 45 days ahead; upgrade exchange_calendars",
        "2027-12-01",
    )
    assert "last known session 2027-12-01" in text
    assert "`pip install -U exchange_calendars`" in text
