"""``grok-assets demo`` (``make run``): five trading days of the cycle, then the gate at work.

With no ``AWS_ENDPOINT_URL``/``S3_BUCKET`` it starts moto's S3 server on loopback;
otherwise it uses the configured store, but only an empty prefix, because the demo
deletes a backup on purpose. Every step prints one line and states what it expected;
the exit code is 0 only when every expectation held.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grok_assets import layout, trading_calendar
from grok_assets.settings import Settings
from grok_assets.storage import S3Store

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


@dataclass
class DemoTarget:
    """Where the demo runs: its store, the resources its runs get, the variables a child
    process (``dagster dev``) needs to reach the same store, and the Dagster home."""

    store: S3Store
    resources: dict[str, Any]
    home: Path
    child_environ: dict[str, str] = field(default_factory=dict)


def dagster_home(settings: Settings, out: Callable[[str], None]) -> Path:
    home = Path(settings.dagster_home or Path.cwd() / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():
        # Default storage (SQLite under DAGSTER_HOME); telemetry off for a local demo.
        instance_config.write_text("telemetry:\n  enabled: false\n")
    out(f"Dagster instance (runs, checks, lineage) persisted in {home}")
    return home


@contextlib.contextmanager
def demo_target(
    settings: Settings | None = None, out: Callable[[str], None] = print
) -> Iterator[DemoTarget]:
    """Everything the demo runs in, kept until the block exits: a persistent Dagster home,
    recorded answers (``replay``) and the store, moto's server on loopback unless
    ``S3_BUCKET`` and ``AWS_ENDPOINT_URL`` name one. ``grok-assets ui`` keeps it open
    while the UI runs. The process environment is never changed."""
    from grok_assets.defs.resources import SelectorResource, storage_resource_from
    from grok_assets.dev.s3_server import loopback_s3_server
    from grok_assets.storage import open_store

    settings = settings or Settings.from_environment()
    home = dagster_home(settings, out)
    base = {"DAGSTER_HOME": str(home), "GROK_SELECTOR": "replay"}
    if settings.get("S3_BUCKET") and settings.aws_endpoint_url:
        out(f"using the configured store {settings.aws_endpoint_url}")
        yield DemoTarget(
            store=open_store(settings),
            resources={
                "storage": storage_resource_from(settings),
                "selector": SelectorResource(kind="replay"),
            },
            home=home,
            child_environ=base,
        )
        return
    with loopback_s3_server() as s3:
        s3.create_bucket(DEMO_BUCKET)
        out(f"started an S3-compatible server (moto) at {s3.endpoint}, bucket {DEMO_BUCKET}")
        yield DemoTarget(
            store=s3.store(DEMO_BUCKET),
            resources=s3.resources(DEMO_BUCKET),
            home=home,
            child_environ={**s3.environ(DEMO_BUCKET), **base},
        )


def demo_days(cycle_days: int = DEMO_CYCLE_DAYS) -> list[dt.date]:
    """The demo's trading days: ``cycle_days`` full cycles plus the blocked day."""
    if cycle_days < 1:
        raise ValueError(f"the demo needs at least one full day of the cycle, not {cycle_days}")
    days = [DEMO_FIRST_DAY]
    while len(days) < cycle_days + 1:
        days.append(trading_calendar.next_trading_day(days[-1]))
    return days


def _grounding(store: S3Store, day: dt.date) -> str | None:
    """What the day's evidence file says about the answer, when grounding was checked."""
    from grok_assets.selection import evidence

    key = layout.answer_key(day)
    if not store.exists(key):
        return None
    summary = evidence.summary_of(evidence.decode(store.get_bytes(key)[0], store.uri(key)))
    if not summary.grounding_checked:
        return None
    searches = ", ".join(f"{tool} {count}" for tool, count in summary.searches.items())
    cost = f", {summary.cost_usd:.4f} USD" if summary.cost_usd is not None else ""
    return (
        f"{summary.grounded} picks grounded in {summary.citations} cited sources ({searches}{cost})"
    )


def run_demo(out: Callable[[str], None] = print) -> int:
    with demo_target(out=out) as target:
        return play_demo(target, out)


def play_demo(
    target: DemoTarget, out: Callable[[str], None] = print, cycle_days: int = DEMO_CYCLE_DAYS
) -> int:
    """The demo's steps, inside :func:`demo_target`: ``cycle_days`` days of the cycle,
    the blocked selection, the restore and the pass. 0 only if every expectation held."""
    from dagster import DagsterInstance, ExecuteInProcessResult

    from grok_assets.backup.gate import backup_status, published_selection_date
    from grok_assets.backup.restore import restore_daily_backup
    from grok_assets.definitions import defs
    from grok_assets.defs.run import run_quietly
    from grok_assets.dev.seeding import seed_sample

    steps = Steps(out)
    days = demo_days(cycle_days)
    store = target.store
    try:
        with DagsterInstance.from_config(str(target.home)) as instance:
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

            def run(job_name: str, day: dt.date | None) -> bool:
                nonlocal last_result
                last_result = run_quietly(
                    defs, job_name, day=day, instance=instance, resources=target.resources
                )
                return bool(last_result.success)

            last_result: ExecuteInProcessResult | None = None

            for day in days[:cycle_days]:
                ok = run("selection_job", day)
                published = published_selection_date(store)
                grounded = _grounding(store, day)
                steps.expect(
                    ok and published == day.isoformat() and grounded is not None,
                    f"eve of {day} 23:00  selection_job: {grounded or 'no grounded answer'}, "
                    f"gate passed, grok_trending.parquet now holds {published}",
                )
                ok = run("backtest_job", day)
                status = backup_status(store, day.isoformat())
                steps.expect(
                    ok and status.passed,
                    f"{day} 16:00        backtest_job: daily backup {status.daily_rows} rows, "
                    f"archive {status.archive_rows} rows for the day, manifest updated",
                )

            last, blocked_day = days[cycle_days - 1], days[cycle_days]
            backup_key = layout.daily_backup_key(last)
            store.delete(backup_key)
            steps.expect(
                not store.exists(backup_key), f"deleted the daily backup {backup_key} on purpose"
            )
            before = store.head(layout.PUBLISHED_SELECTION)
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
            after = store.head(layout.PUBLISHED_SELECTION)
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
            steps.expect(
                run("verify_backups_job", None),
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
