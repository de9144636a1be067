"""Soak: many simulated trading days of the real jobs under seeded random faults.

Every day runs the 23:00 selection, the 16:00 backtest and the retention, through a
fault proxy in front of a loopback S3 server. On a seeded share of the runs one
fault from the reliability list is injected at a random request of the run:
refused connections, a reset mid-body, 503 SlowDown, 500, 403 AccessDenied, 404
NoSuchBucket, an upload altered in flight, a lost answer, or a "crash" (from a
point in the run on, nothing more reaches S3: what S3 sees of a killed process).

The operator is simulated too: a failed run is re-run without the fault, except that
a failed backtest is sometimes left until the next evening, when the gate refuses
the next selection and the backtest is caught up first.

Checked against S3 itself (not against what the jobs report), every day: no row any
daily backup ever held is missing from the archive, and no publication replaced a
selection that was not backed up. At the end: fsck.

    python benchmarks/soak.py                       # 250 days, seed 7
    python benchmarks/soak.py --days 20 --seed 1    # shorter

Writes ``benchmarks/results/soak.json`` and prints the report as a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Run as a script (`python benchmarks/soak.py`): make the repository importable.
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from grok_assets import trading_calendar  # noqa: E402
from grok_assets.backup import generations  # noqa: E402
from grok_assets.backup.fsck import run_fsck  # noqa: E402
from grok_assets.backup.generations import list_generations  # noqa: E402
from grok_assets.backup.retention import apply_retention, plan_retention  # noqa: E402
from grok_assets.storage import S3Store  # noqa: E402
from grok_assets_tests.support.fault_proxy import (  # noqa: E402
    CUT,
    FORWARD_THEN_RESET,
    MUTATE,
    REFUSE,
    RESET_REQUEST,
    RESET_RESPONSE,
    STATUS,
    FaultProxy,
    Rule,
)
from grok_assets_tests.support.harness import (  # noqa: E402
    Ledger,
    archive_rows,
    fast_pipeline,
    published,
    run_fast,
)
from grok_assets_tests.support.pipeline import step_errors  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
COMMAND = "python benchmarks/soak.py --days 250 --seed 7"
FIRST_DAY = dt.date(2025, 1, 6)

CANDIDATES = r"/grok/candidates/grok_candidates_\d{8}\.parquet$"
PUBLISHED = r"/grok_trending\.parquet$"
DAILY = r"/backtest/grok_trending_\d{8}\.parquet$"
ARCHIVE = r"/backtest/grok_trending_archive\.parquet$"
GENERATION = r"/backtest/archive_generations/"
MANIFEST = r"/manifest\.json$"
PRICES = r"/prices_.*\.parquet$"

# The requests each job makes that a fault may hit: (method, path).
TARGETS = {
    "selection_job": [
        ("PUT", CANDIDATES),
        ("GET", CANDIDATES),
        ("HEAD", PUBLISHED),
        ("GET", PUBLISHED),
        ("PUT", PUBLISHED),
        ("GET", ARCHIVE),
        ("GET", DAILY),
        ("PUT", MANIFEST),
    ],
    "backtest_job": [
        ("GET", CANDIDATES),
        ("GET", PRICES),
        ("PUT", DAILY),
        ("GET", DAILY),
        ("GET", ARCHIVE),
        ("PUT", GENERATION),
        ("PUT", ARCHIVE),
        ("GET", MANIFEST),
        ("PUT", MANIFEST),
    ],
}


def _fault(kind: str, method: str, path: str, rng: random.Random) -> list[Rule]:
    """The rules that inject one fault of ``kind`` at the first ``method`` on ``path``."""
    if kind == "slowdown":  # transient only: persistent throttling costs ~15 s of backoff
        return [Rule(STATUS, method, path, code="SlowDown", times=rng.choice([1, 2]))]
    if kind == "internal_error":
        return [Rule(STATUS, method, path, code="InternalError", times=rng.choice([1, 2, None]))]
    if kind == "refused":
        return [Rule(REFUSE, method, path, refuse_seconds=None)]
    if kind == "reset":
        action = RESET_RESPONSE if method in ("GET", "HEAD") else RESET_REQUEST
        return [Rule(action, method, path, times=rng.choice([1, None]))]
    if kind == "access_denied":
        return [Rule(STATUS, method, path, code="AccessDenied")]
    if kind == "no_such_bucket":
        return [Rule(STATUS, None, None, code="NoSuchBucket", times=None)]
    if kind == "altered":
        return [Rule(MUTATE, "PUT", path, times=rng.choice([1, None]))]
    if kind == "lost_answer":
        return [Rule(FORWARD_THEN_RESET, "PUT", path)]
    if kind == "crash":
        return [Rule(CUT, method, path)]
    raise ValueError(kind)


FAULT_KINDS = (
    "refused",
    "reset",
    "slowdown",
    "internal_error",
    "access_denied",
    "no_such_bucket",
    "altered",
    "lost_answer",
    "crash",
)
_PUT_ONLY = {"altered", "lost_answer"}


@dataclass
class SoakReport:
    days: int
    seed: int
    fault_rate: float
    first_day: str
    last_day: str
    runs: int = 0
    runs_failed: int = 0
    runs_retried: int = 0
    runs_blocked: int = 0
    backtests_deferred: int = 0
    catch_ups_skipped: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    publications: int = 0
    rows_produced: int = 0
    rows_in_archive: int = 0
    lost_rows: int = 0
    unbacked_publications: int = 0
    fsck_findings: list[str] = field(default_factory=list)
    generations_kept: int = 0
    requests: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.lost_rows == 0 and self.unbacked_publications == 0 and not self.fsck_findings

    def rows(self) -> list[tuple[str, str]]:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults_injected.items()))
        return [
            ("trading days run", f"{self.days} ({self.first_day} .. {self.last_day})"),
            ("seed / fault rate", f"{self.seed} / {self.fault_rate:.0%} of runs"),
            ("faults injected", f"{sum(self.faults_injected.values())} ({faults or 'none'})"),
            ("job runs", str(self.runs)),
            ("runs failed", str(self.runs_failed)),
            ("runs retried", str(self.runs_retried)),
            ("runs blocked by the gate", str(self.runs_blocked)),
            (
                "backtests left to the next day",
                f"{self.backtests_deferred} ({self.catch_ups_skipped} already backed up)",
            ),
            ("publications", str(self.publications)),
            ("rows in archive / rows produced", f"{self.rows_in_archive} / {self.rows_produced}"),
            ("lost rows (must be 0)", str(self.lost_rows)),
            ("unbacked publications (must be 0)", str(self.unbacked_publications)),
            ("fsck findings (must be 0)", str(len(self.fsck_findings))),
            ("archive generations kept", str(self.generations_kept)),
            ("S3 requests", str(self.requests)),
            ("wall time", f"{self.seconds:.0f} s"),
        ]

    def table(self) -> str:
        width = max(len(name) for name, _ in self.rows())
        lines = [f"| {'soak':<{width}} | result |", f"|{'-' * (width + 2)}|--------|"]
        lines += [f"| {name:<{width}} | {value} |" for name, value in self.rows()]
        return "\n".join(lines)


class Soak:
    def __init__(
        self,
        store: S3Store,
        proxy: FaultProxy,
        *,
        days: int,
        seed: int,
        fault_rate: float,
        defer_rate: float = 0.4,
        log: Callable[[str], None] = lambda _: None,
        verbose: bool = False,
    ) -> None:
        self.verbose = verbose
        self.store = store
        self.proxy = proxy
        # The jobs go through the fault proxy; the ledger reads S3 directly (``store``).
        self.pipeline = fast_pipeline(proxy.endpoint, store.bucket)
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.defer_rate = defer_rate
        self.log = log
        self.days = trading_calendar.trading_days(FIRST_DAY, FIRST_DAY + dt.timedelta(days=400))[
            :days
        ]
        self.ledger = Ledger()
        self.today = self.days[0]
        self.last_errors = ""
        self.faults: Counter[str] = Counter()
        self.report = SoakReport(
            days=len(self.days),
            seed=seed,
            fault_rate=fault_rate,
            first_day=self.days[0].isoformat(),
            last_day=self.days[-1].isoformat(),
        )

    # -- one run ------------------------------------------------------------------

    def _run(self, job: str, day: dt.date, *, faulty: bool) -> bool:
        """Run ``job`` for ``day``, perhaps with a fault; True when it succeeded."""
        rules: list[Rule] = []
        kind = method = path = ""
        if faulty and self.rng.random() < self.fault_rate:
            kind = self.rng.choice(FAULT_KINDS)
            targets = TARGETS[job]
            if kind in _PUT_ONLY:
                targets = [t for t in targets if t[0] == "PUT"]
            method, path = self.rng.choice(targets)
            rules = [self.proxy.add(rule) for rule in _fault(kind, method, path, self.rng)]
        before = self.ledger.before_selection(self.store) if job == "selection_job" else None
        try:
            result = run_fast(self.pipeline, job, day)
        finally:
            self.proxy.clear()
            self.proxy.accept_again()
        self.report.runs += 1
        if rules and any(rule.applied for rule in rules):
            self.faults[kind] += 1
        if before is not None:
            self.ledger.after_selection(self.store, before)
        if not result.success:
            self.report.runs_failed += 1
            gate = [
                e.check_name
                for e in result.get_asset_check_evaluations()
                if not e.passed
                and e.check_name in ("daily_backup_exists", "archive_contains_target_date")
            ]
            if gate and job == "selection_job":
                self.report.runs_blocked += 1
        if job == "backtest_job":
            # Whatever daily file a run left behind is produced data the archive must
            # end up holding, whether or not the rest of the run succeeded.
            self.ledger.record_backtest(self.store, day)
        self.last_errors = step_errors(result)
        if self.verbose:
            fault = f"{kind} at {method} {path}" if rules else "no fault"
            state = "ok" if result.success else "FAILED"
            self.log(
                f"    {day} {job:<13} {state:<6} ({fault}; applied {[r.applied for r in rules]})"
            )
            if not result.success:
                self.log("      " + self.last_errors.splitlines()[0] if self.last_errors else "")
        return bool(result.success)

    def _until_success(self, job: str, day: dt.date) -> None:
        """What the operator does after a failure: run it again (without the fault)."""
        for _ in range(3):
            self.report.runs_retried += 1
            if self._run(job, day, faulty=False):
                return
        raise RuntimeError(f"{job} {day} still fails without any fault:\n{self.last_errors}")

    # -- the cycle ----------------------------------------------------------------

    def _simulate_clock(self) -> Callable[[], dt.datetime]:
        """The clock archive generations are stamped and pruned by: the simulated day
        (a microsecond further on each call), so their 7-day window is 7 trading-
        calendar days of the soak, not 7 days of wall time."""
        ticks = 0

        def now() -> dt.datetime:
            nonlocal ticks
            ticks += 1
            base = dt.datetime.combine(self.today, dt.time(7, 0), tzinfo=dt.UTC)
            return base + dt.timedelta(microseconds=ticks)

        return now

    def run(self) -> SoakReport:
        started = time.monotonic()
        wall_clock, generations.clock = generations.clock, self._simulate_clock()
        try:
            self._days()
        finally:
            generations.clock = wall_clock
        self._finish(started)
        return self.report

    def _days(self) -> None:
        # A failed backtest the operator left until the next evening, if any.
        deferred: dt.date | None = None
        for number, day in enumerate(self.days):
            self.today = day
            if not self._run("selection_job", day, faulty=True):
                if deferred is not None:
                    # The gate held the selection back: catch the backtest up first.
                    self._catch_up(deferred)
                    deferred = None
                self._until_success("selection_job", day)
            if deferred is not None:
                self._catch_up(deferred)
                deferred = None
            if not self._run("backtest_job", day, faulty=True):
                if self.rng.random() < self.defer_rate and number + 1 < len(self.days):
                    self.report.backtests_deferred += 1
                    deferred = day
                else:
                    self._until_success("backtest_job", day)
            plan = plan_retention(self.store, day)
            apply_retention(self.store, plan)
            # A backtest left to the next day is pending, not lost: its rows are in its
            # daily file and the gate holds the next selection until they are archived.
            pending = deferred.isoformat() if deferred is not None else None
            lost = {row for row in self.ledger.lost_rows(self.store) if row[0] != pending}
            if lost:
                raise AssertionError(f"{day}: rows lost from the archive: {sorted(lost)[:5]}")
            if (number + 1) % 25 == 0:
                self.log(f"  day {number + 1}/{len(self.days)} {day}: {dict(self.faults)}")
        if deferred is not None:
            self._catch_up(deferred)

    def _catch_up(self, day: dt.date) -> None:
        """Re-run a backtest left failed, while its selection is still the published
        one. Once a newer selection is published the gate has proven the day's daily
        file and archive rows are in S3; the next day's backtest refreshes the
        manifest. (A re-run then would fail: backtest_job's blocking checks target the
        published selection, whose own backtest has not run yet.)"""
        if published(self.store)[1] == day.isoformat():
            self._until_success("backtest_job", day)
        else:
            self.report.catch_ups_skipped += 1

    def _finish(self, started: float) -> None:
        report = self.report
        report.faults_injected = dict(sorted(self.faults.items()))
        report.publications = self.ledger.publications
        report.unbacked_publications = len(self.ledger.unbacked_publications)
        held = archive_rows(self.store)
        report.rows_produced = len(self.ledger.produced)
        report.rows_in_archive = len(held)
        report.lost_rows = len(self.ledger.produced - held)
        report.fsck_findings = [finding.line() for finding in run_fsck(self.store)]
        report.generations_kept = len(list_generations(self.store))
        report.requests = len(self.proxy.requests)
        report.seconds = time.monotonic() - started


def soak(
    store: S3Store,
    proxy: FaultProxy,
    *,
    days: int,
    seed: int,
    fault_rate: float,
    log: Callable[[str], None] = lambda _: None,
    verbose: bool = False,
) -> SoakReport:
    """Seed sample data for the days, then run the soak; the environment must point
    the pipeline at ``proxy`` (``AWS_ENDPOINT_URL``) and at ``store``'s bucket."""
    from grok_assets.dev.seeding import seed_sample

    runner = Soak(
        store, proxy, days=days, seed=seed, fault_rate=fault_rate, log=log, verbose=verbose
    )
    seed_sample(store, runner.days[0], runner.days[-1], seed=seed)
    return runner.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of runs (0.3)")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    parser.add_argument("--verbose", action="store_true", help="print every run")
    args = parser.parse_args(argv)

    from grok_assets.dev.s3_server import loopback_s3_server

    bucket = f"grok-soak-{uuid.uuid4().hex[:8]}"
    with loopback_s3_server() as s3, FaultProxy(s3.endpoint) as proxy:
        s3.create_bucket(bucket)
        store = s3.store(bucket)
        print(f"soak: {args.days} trading days, seed {args.seed}, faults on {args.fault_rate:.0%}")
        report = soak(
            store,
            proxy,
            days=args.days,
            seed=args.seed,
            fault_rate=args.fault_rate,
            log=print,
            verbose=args.verbose,
        )
    print(report.table())
    for finding in report.fsck_findings:
        print(f"fsck: {finding}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        **asdict(report),
        "ok": report.ok,
        "command": COMMAND,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
