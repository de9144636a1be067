"""The real ``dagster-daemon`` runs the schedules, the run queue and the alert sensor of
the production deployment, on a clock set by libfaketime (``support/daemon.py``):

- at 23:00 on Sunday 2026-11-29 the selection for Monday 11-30 is launched and
  succeeds;
- at 23:00 on Monday 2026-11-02, the eve of Culture Day (Tuesday 11-03), no run is
  launched; two selections launched by hand at once run one after the other, the
  second waiting in the queue; a third, blocked by the gate, reaches the loopback
  Slack webhook as one message with its fix;
- at 16:00 on Friday 2026-11-27 the backtest for Friday runs.

Each scenario has its own database, ``DAGSTER_HOME`` (``deploy/dagster.yaml`` as it
is), bucket on the loopback S3 server and fake clock, started ``LEADS[0]`` seconds
before its tick: the daemon's first pass defines where its schedules start, so it
must come before the tick, and a loaded machine needs seconds to start a code
location. The runs use recorded answers (replay); the seeded data is synthetic.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterRunStatus
from dagster._core.scheduler.instigation import TickStatus

from grok_assets import layout
from grok_assets.alerts import commands
from grok_assets.backup.gate import published_selection_date, rows_for_date
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.storage import S3Store
from grok_assets_tests.support.daemon import ACTIVE, Deployment, FakeClock, libfaketime
from grok_assets_tests.support.harness import prepare_template
from grok_assets_tests.support.postgres import Postgres, postgres_server
from grok_assets_tests.support.slack_server import FakeSlack

UTC = dt.UTC
# Fake seconds from the start of the code location to the tick: it and the daemon
# start in 5-15 s on a loaded 2-core machine; a second try waits longer.
LEADS = (40.0, 120.0)
SCHEDULES = {"backtest_schedule", "selection_schedule", "freshness_schedule", "retention_schedule"}
# Generous: two cores, and other test suites may be running.
TICK_WAIT = LEADS[-1] + 180
RUN_WAIT = 420
ALERT_WAIT = 180
# Runs launched by hand here execute their steps in one process: the run queue and its
# limits treat runs alike whatever their executor, and the scheduled runs above show
# the default (a process per step, ~10 s each on a loaded 2-core machine) end to end.
IN_ONE_PROCESS = " --config-json " + shlex.quote(
    json.dumps({"execution": {"config": {"in_process": {}}}})
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    libfaketime()  # skip (or fail in CI) before starting anything
    with postgres_server() as server:
        yield server


def prepared_bucket(s3: LoopbackS3, seed: tuple[dt.date, dt.date], cycle: list[Any]) -> str:
    bucket = f"grok-daemon-{uuid.uuid4().hex[:12]}"
    prepare_template(s3, bucket, cycle, list(seed))
    return bucket


@contextmanager
def deployment(
    tmp_path: Path,
    postgres: Postgres,
    s3: LoopbackS3,
    slack: FakeSlack,
    bucket: str,
    tick: dt.datetime,
) -> Iterator[Deployment]:
    """A deployment whose daemon has seen the schedules, and started them before the tick.

    A machine too loaded to get there within the first lead gets a second try with a longer
    lead, on a fresh database, before anything has run.
    """
    environ = {
        **s3.environ(bucket),
        "GROK_SELECTOR": "replay",
        "GROK_ALERT_WEBHOOK_URL": slack.url(),
    }
    for attempt, lead in enumerate(LEADS):
        database = postgres.create_database(f"dagster_{uuid.uuid4().hex[:8]}")
        clock = FakeClock.starting_at(tick - dt.timedelta(seconds=lead))
        deployed = Deployment(tmp_path / f"try{attempt}", database, environ, clock)
        try:
            deployed.start()
            if not started_before(deployed, tick, lead):
                continue
            yield deployed
            return
        finally:
            deployed.stop()
            print(f"\n{tmp_path.name}: " + "; ".join(f"+{t}s {w}" for t, w in deployed.timeline))
    raise AssertionError(f"the daemon never started its schedules within {LEADS[-1]} s")


def started_before(deployed: Deployment, tick: dt.datetime, lead: float) -> bool:
    states = deployed.wait_for(
        lambda: (found := deployed.schedule_states()) and set(found) >= SCHEDULES and found,
        lead + 60,
        "first pass of the scheduler",
    )
    started = states["selection_schedule"].instigator_data.start_timestamp
    deployed.mark(f"schedules started at {dt.datetime.fromtimestamp(started, UTC):%H:%M:%S}")
    # Ticks at or before the daemon's first pass are never evaluated.
    return started < tick.timestamp()


def completed_tick(deployed: Deployment, schedule: str) -> Any:
    tick = deployed.wait_for(
        lambda: (ticks := deployed.ticks(schedule)) and ticks[0].is_completed and ticks[0],
        TICK_WAIT,
        f"completed tick of {schedule}",
    )
    deployed.mark(f"{schedule} ticked: {tick.status.value}")
    return tick


def finished(deployed: Deployment, run_id: str) -> Any:
    run = deployed.wait_for(lambda: deployed.finished_run(run_id), RUN_WAIT, f"end of run {run_id}")
    deployed.mark(f"run {run_id[:8]} {run.status.value}")
    return run


def scheduled_run(
    deployed: Deployment, schedule: str, tick_at: dt.datetime, job: str, partition: str
) -> Any:
    """The one run ``schedule``'s tick at ``tick_at`` launched: ``job`` for
    ``partition``, finished and successful."""
    tick = completed_tick(deployed, schedule)
    assert tick.timestamp == tick_at.timestamp()
    assert tick.status == TickStatus.SUCCESS
    (run_id,) = tick.run_ids
    run = finished(deployed, run_id)
    assert run.status == DagsterRunStatus.SUCCESS, deployed.step_errors(run_id)
    assert run.job_name == job
    assert run.tags["dagster/partition"] == partition
    assert run.tags["dagster/schedule_name"] == schedule
    return run


def assert_fake_day(deployed: Deployment, run_id: str, day: dt.date) -> None:
    record = deployed.reader.get_run_record_by_id(run_id)
    assert record is not None and record.start_time is not None
    assert dt.datetime.fromtimestamp(record.start_time, UTC).date() == day


def test_sunday_2300_before_a_trading_monday_selects_monday(
    tmp_path: Path, postgres: Postgres, s3: LoopbackS3, slack: FakeSlack
) -> None:
    friday, monday = dt.date(2026, 11, 27), dt.date(2026, 11, 30)
    bucket = prepared_bucket(
        s3, (dt.date(2026, 11, 26), monday), [("selection_job", friday), ("backtest_job", friday)]
    )
    tick_at = dt.datetime(2026, 11, 29, 14, 0, tzinfo=UTC)  # Sunday 23:00 in Tokyo

    with deployment(tmp_path, postgres, s3, slack, bucket, tick_at) as deployed:
        run = scheduled_run(deployed, "selection_schedule", tick_at, "selection_job", "2026-11-30")
        assert run.tags["grok/exclusive"] == "selection"
        assert_fake_day(deployed, run.run_id, dt.date(2026, 11, 29))
        assert deployed.ticks("backtest_schedule") == []
    store: S3Store = s3.store(bucket)
    assert published_selection_date(store) == "2026-11-30"
    assert slack.received == []  # nothing failed


def test_the_eve_of_a_holiday_launches_nothing_and_selections_queue_one_at_a_time(
    tmp_path: Path, postgres: Postgres, s3: LoopbackS3, slack: FakeSlack
) -> None:
    friday, monday = dt.date(2026, 10, 30), dt.date(2026, 11, 2)
    wednesday, thursday = dt.date(2026, 11, 4), dt.date(2026, 11, 5)
    bucket = prepared_bucket(
        s3,
        (dt.date(2026, 10, 29), thursday),
        [
            ("selection_job", friday),
            ("backtest_job", friday),
            ("selection_job", monday),
            ("backtest_job", monday),
        ],
    )
    tick_at = dt.datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 23:00; Tuesday is a holiday

    with deployment(tmp_path, postgres, s3, slack, bucket, tick_at) as deployed:
        # Two selections for Wednesday launched by hand at once, as an operator would
        # with the command an alert gives, while the 23:00 tick comes and goes.
        command = commands.launch("selection_job", wednesday.isoformat()) + IN_ONE_PROCESS
        launches = [deployed.launch(command), deployed.launch(command)]
        timeline: dict[str, list[tuple[float, str]]] = {}
        overlaps: list[float] = []

        def both_done() -> bool:
            runs = deployed.reader.get_runs()
            for run in runs:
                states = timeline.setdefault(run.run_id, [])
                if not states or states[-1][1] != run.status.value:
                    states.append((round(deployed.elapsed(), 1), run.status.value))
            if sum(run.status in ACTIVE for run in runs) > 1:
                overlaps.append(deployed.elapsed())
            return len(runs) == 2 and all(deployed.finished_run(run.run_id) for run in runs)

        deployed.wait_for(both_done, RUN_WAIT * 2, "both selections to finish", step=0.2)
        deployed.mark("both hand-launched selections finished")
        outputs = [launch.communicate(timeout=120)[0] for launch in launches]
        assert [launch.returncode for launch in launches] == [0, 0], outputs

        tick = completed_tick(deployed, "selection_schedule")
        assert tick.timestamp == tick_at.timestamp()
        assert tick.status == TickStatus.SKIPPED
        assert "the next JPX trading day is 2026-11-04" in (tick.skip_reason or "")
        assert tick.run_ids == []
        time.sleep(10)  # two dequeue intervals: nothing else appears
        runs = deployed.reader.get_runs()
        assert len(runs) == 2
        assert not any("dagster/schedule_name" in run.tags for run in runs)

        # One at a time: the second waited in the queue, started after the first ended,
        # and both succeeded.
        records = sorted(
            (deployed.reader.get_run_record_by_id(run.run_id) for run in runs),
            key=lambda record: record.start_time or 0,
        )
        first, second = records
        assert [r.dagster_run.status for r in records] == [DagsterRunStatus.SUCCESS] * 2, (
            deployed.step_errors(first.dagster_run.run_id)
            + deployed.step_errors(second.dagster_run.run_id)
        )
        assert overlaps == [], f"both selections ran at once: {timeline}"
        assert "QUEUED" in [s for _, s in timeline[second.dagster_run.run_id]], timeline
        # It was waiting, not yet created, while the first ran: the limit was exercised.
        assert second.create_timestamp.timestamp() < first.end_time
        assert second.start_time >= first.end_time
        assert all(r.dagster_run.tags["grok/exclusive"] == "selection" for r in records)
        store = s3.store(bucket)
        assert published_selection_date(store) == "2026-11-04"

        # A selection for Thursday is blocked: Wednesday's is published, not backed up.
        blocked = deployed.launch(
            commands.launch("selection_job", thursday.isoformat()) + IN_ONE_PROCESS
        )
        assert blocked.wait(180) == 0, blocked.communicate()[0]
        (run,) = [r for r in deployed.reader.get_runs() if r.run_id not in timeline]
        assert finished(deployed, run.run_id).status == DagsterRunStatus.FAILURE
        (message,) = slack.wait_for_messages(1, ALERT_WAIT)
        deployed.mark("alert received")

    lines = message.splitlines()
    assert lines[0] == (
        ":no_entry: *selection_job for 2026-11-05 is BLOCKED by the backup gate: nothing was "
        "published*"
    )
    assert lines[1] == f"job selection_job, partition 2026-11-05, run {run.run_id[:8]}"
    assert "grok_trending.parquet still holds 2026-11-04, which is not backed up" in message
    assert "daily backup backtest/grok_trending_20261104.parquet is missing" in message
    backtest = commands.launch("backtest_job", "2026-11-04")
    assert f"Fix: back it up and archive it: `{backtest}`" in message
    assert "Traceback" not in message
    assert published_selection_date(store) == "2026-11-04"


def test_friday_1600_backtests_friday(
    tmp_path: Path, postgres: Postgres, s3: LoopbackS3, slack: FakeSlack
) -> None:
    thursday, friday = dt.date(2026, 11, 26), dt.date(2026, 11, 27)
    bucket = prepared_bucket(
        s3,
        (dt.date(2026, 11, 25), friday),
        [("selection_job", thursday), ("backtest_job", thursday), ("selection_job", friday)],
    )
    tick_at = dt.datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # Friday 16:00 in Tokyo

    with deployment(tmp_path, postgres, s3, slack, bucket, tick_at) as deployed:
        run = scheduled_run(deployed, "backtest_schedule", tick_at, "backtest_job", "2026-11-27")
        assert_fake_day(deployed, run.run_id, friday)
        assert deployed.ticks("selection_schedule") == []
    store = s3.store(bucket)
    assert store.head(layout.daily_backup_key(friday)) is not None
    assert (rows_for_date(store, layout.ARCHIVE, "2026-11-27") or 0) > 0
    assert slack.received == []
    assert json.loads(store.get_bytes(layout.MANIFEST)[0])["files"]
