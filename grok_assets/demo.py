"""``grok-assets demo`` (``make run``): five trading days of the cycle, then the gate at work.

With no ``AWS_ENDPOINT_URL``/``S3_BUCKET`` it starts moto's S3 server on loopback;
otherwise it uses the configured store, but only an empty prefix, because the demo
deletes a backup on purpose. Every step prints one line and states what it expected;
the exit code is 0 only when every expectation held.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from grok_assets import keys, trading_calendar
from grok_assets.jobs import QUIET_RUN_CONFIG

# A fixed stretch of the past, so the demo shows the same days on any machine.
DEMO_FIRST_DAY = dt.date(2026, 11, 16)
DEMO_CYCLE_DAYS = 5
DEMO_BUCKET = "grok-assets-demo"


class DemoFailed(RuntimeError):
    pass


class Steps:
    """Prints one line per step and remembers whether every expectation held."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self._out = out
        self.failures = 0
        self.count = 0

    def expect(self, held: bool, text: str) -> None:
        self.count += 1
        if not held:
            self.failures += 1
        self._out(f"[{'ok' if held else 'FAILED'}] {text}")


@contextlib.contextmanager
def _store_environment(out: Callable[[str], None]) -> Iterator[None]:
    if os.environ.get("S3_BUCKET") and os.environ.get("AWS_ENDPOINT_URL"):
        out(f"using the configured store {os.environ['AWS_ENDPOINT_URL']}")
        yield
        return
    import boto3

    from grok_assets.config import aws_region
    from grok_assets.s3_server import LOOPBACK_CREDENTIALS, loopback_s3_server

    with loopback_s3_server() as endpoint:
        saved = dict(os.environ)
        os.environ.update(
            {**LOOPBACK_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "S3_BUCKET": DEMO_BUCKET}
        )
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        region = aws_region()
        boto3.client("s3", endpoint_url=endpoint, region_name=region).create_bucket(
            Bucket=DEMO_BUCKET, CreateBucketConfiguration={"LocationConstraint": region}
        )
        out(f"started an S3-compatible server (moto) at {endpoint}, bucket {DEMO_BUCKET}")
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _dagster_home(out: Callable[[str], None]) -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():
        # Default storage (SQLite under DAGSTER_HOME); telemetry off for a local demo.
        instance_config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    out(f"Dagster instance (runs, checks, lineage) persisted in {home}")
    return home


def demo_days(cycle_days: int = DEMO_CYCLE_DAYS) -> list[dt.date]:
    """The demo's trading days: ``cycle_days`` full cycles plus the blocked day."""
    if cycle_days < 1:
        raise ValueError(f"the demo needs at least one full day of the cycle, not {cycle_days}")
    days = [DEMO_FIRST_DAY]
    while len(days) < cycle_days + 1:
        days.append(trading_calendar.next_trading_day(days[-1]))
    return days


@contextlib.contextmanager
def demo_environment(out: Callable[[str], None] = print) -> Iterator[Path]:
    """Everything the demo runs in, kept until the block exits: a persistent
    ``DAGSTER_HOME``, ``GROK_SELECTOR=replay`` and the store (moto's server on loopback
    unless one is configured). ``python -m grok_assets.ui`` keeps it open while the UI runs."""
    home = _dagster_home(out)
    saved_selector = os.environ.get("GROK_SELECTOR")
    os.environ["GROK_SELECTOR"] = "replay"
    try:
        with _store_environment(out):
            yield home
    finally:
        if saved_selector is None:
            os.environ.pop("GROK_SELECTOR", None)
        else:
            os.environ["GROK_SELECTOR"] = saved_selector


def run_demo(out: Callable[[str], None] = print) -> int:
    with demo_environment(out):
        return play_demo(out)


def play_demo(out: Callable[[str], None] = print, cycle_days: int = DEMO_CYCLE_DAYS) -> int:
    """The demo's steps, inside :func:`demo_environment`: ``cycle_days`` days of the
    cycle, the blocked selection, the restore and the pass. 0 only if every expectation
    held."""
    from dagster import DagsterInstance, ExecuteInProcessResult

    from grok_assets.definitions import defs
    from grok_assets.gate import backup_status, published_selection_date
    from grok_assets.resources import make_storage_resource
    from grok_assets.restore import restore_daily_backup
    from grok_assets.seeding import seed_sample

    steps = Steps(out)
    days = demo_days(cycle_days)
    try:
        with DagsterInstance.get() as instance:
            store = make_storage_resource().store()
            if any(info.key != "" for info in store.list()):
                raise DemoFailed(
                    f"{store.uri('')} is not empty; the demo deletes a backup on purpose, so "
                    "point S3_PREFIX at an empty prefix"
                )
            report = seed_sample(store, days[0], days[-1])
            steps.expect(
                len(report.days) == len(days),
                f"seeded SYNTHETIC sample bars and recorded Grok answers for {days[0]} .. "
                f"{days[-1]}",
            )

            def run(job_name: str, day: dt.date) -> bool:
                nonlocal last_result
                job = defs.resolve_job_def(job_name)
                last_result = job.execute_in_process(
                    partition_key=day.isoformat(),
                    instance=instance,
                    raise_on_error=False,
                    run_config=QUIET_RUN_CONFIG,
                )
                return bool(last_result.success)

            last_result: ExecuteInProcessResult | None = None

            for day in days[:cycle_days]:
                ok = run("selection_job", day)
                published = published_selection_date(store)
                steps.expect(
                    ok and published == day.isoformat(),
                    f"eve of {day} 23:00  selection_job: gate passed, grok_trending.parquet now "
                    f"holds {published}",
                )
                ok = run("backtest_job", day)
                status = backup_status(store, day.isoformat())
                steps.expect(
                    ok and status.passed,
                    f"{day} 16:00        backtest_job: daily backup {status.daily_rows} rows, "
                    f"archive {status.archive_rows} rows for the day, manifest updated",
                )

            last, blocked_day = days[cycle_days - 1], days[cycle_days]
            backup_key = keys.daily_backup_key(last)
            store.delete(backup_key)
            steps.expect(
                not store.exists(backup_key), f"deleted the daily backup {backup_key} on purpose"
            )
            before = store.head(keys.PUBLISHED_SELECTION)
            ok = run("selection_job", blocked_day)
            assert last_result is not None
            failed_checks = sorted(
                evaluation.check_name
                for evaluation in last_result.get_asset_check_evaluations()
                if not evaluation.passed
            )
            materialized = {
                event.asset_key.to_user_string()
                for event in last_result.get_asset_materialization_events()
            }
            after = store.head(keys.PUBLISHED_SELECTION)
            untouched = before is not None and after is not None and before.md5 == after.md5
            steps.expect(
                not ok
                and failed_checks == ["daily_backup_exists"]
                and "grok_trending" not in materialized
                and untouched
                and published_selection_date(store) == last.isoformat(),
                f"eve of {blocked_day} 23:00  selection_job BLOCKED: "
                f"{', '.join(failed_checks) or 'no check'} failed, grok_trending not materialized, "
                f"grok_trending.parquet untouched (still {last}, "
                f"md5 {after.md5 if after else '-'})",
            )
            verify = backup_status(store, last.isoformat())
            steps.expect(
                not verify.passed, f"verify --date {last:%Y%m%d}: {'; '.join(verify.findings())}"
            )
            restored = restore_daily_backup(store, last)
            steps.expect(
                restored.written,
                f"restore --date {last:%Y%m%d}: rebuilt {restored.key} from the archive "
                f"({restored.rows} rows)",
            )
            ok = run("selection_job", blocked_day)
            steps.expect(
                ok and published_selection_date(store) == blocked_day.isoformat(),
                f"eve of {blocked_day} 23:00  selection_job: gate passed after restore, "
                f"grok_trending.parquet now holds {blocked_day}",
            )
            ok = run("backtest_job", blocked_day)
            steps.expect(ok, f"{blocked_day} 16:00        backtest_job: backed up and archived")
            verified = defs.resolve_job_def("verify_backups_job").execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET_RUN_CONFIG
            )
            steps.expect(
                bool(verified.success),
                f"verify_backups_job: every blocking check passed for {blocked_day}",
            )
    except DemoFailed as error:
        out(f"[FAILED] {error}")
        return 1
    out(
        f"{steps.count - steps.failures}/{steps.count} expectations held"
        + ("" if steps.failures == 0 else " - DEMO FAILED")
    )
    return 0 if steps.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(run_demo())
