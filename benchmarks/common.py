"""What every benchmark shares: the loopback S3 store, timing, machine facts, tables."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks.counting import TransferCounter
from benchmarks.synthetic import build_archive
from grok_assets import trading_calendar
from grok_assets.defs.run import QUIET_RUN_CONFIG
from grok_assets.dev.s3_server import LoopbackS3, free_port, loopback_s3_server
from grok_assets.layout import Location
from grok_assets.storage import S3Store

REPO = Path(__file__).resolve().parent.parent
HISTORY_YEARS = (1, 5, 20)
# Hides Dagster's per-event console output, as the tests' runs do.
QUIET = QUIET_RUN_CONFIG


@dataclass
class Loopback:
    """The loopback S3 server of this benchmark run and a counting client on it."""

    server: LoopbackS3
    client: Any
    counter: TransferCounter

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def env(self, bucket: str) -> dict[str, str]:
        """The environment an operator would set to point a command at ``bucket``."""
        return {**self.server.environ(bucket), "GROK_SELECTOR": "replay"}

    def resources(self, bucket: str) -> dict[str, Any]:
        """What a run against ``bucket`` gets: the store and recorded answers."""
        return self.server.resources(bucket)

    def new_bucket(self, label: str) -> str:
        bucket = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        with self.counter.paused():
            self.server.create_bucket(bucket)
        return bucket

    def store(self, bucket: str) -> S3Store:
        return S3Store(self.client, Location(bucket=bucket, prefix="parquet/"))


@contextmanager
def loopback() -> Iterator[Loopback]:
    """moto's server in this process: requests can be counted as they are served."""
    with loopback_s3_server() as server:
        client = server.client()
        yield Loopback(server, client, TransferCounter().attach(client))


@contextmanager
def separate_loopback(startup_timeout_s: float = 60.0) -> Iterator[Loopback]:
    """moto's server in a process of its own, as an operator's S3 is: a command timed
    as a whole process is then not slowed by this process's heap (the in-process
    server pays for the garbage collections of every job the benchmarks ran)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"moto's server exited {server.returncode} on start")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto's server did not listen on {port}") from None
                time.sleep(0.1)
        s3 = LoopbackS3(f"http://127.0.0.1:{port}")
        client = s3.client()
        yield Loopback(s3, client, TransferCounter().attach(client))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def history_end() -> dt.date:
    """The newest day a benchmark archive holds: the last JPX session before today
    that leaves a few more sessions (inside the partitions) for the daily cycle."""
    today = min(dt.date.today(), trading_calendar.last_known_day())
    return trading_calendar.trading_days(today - dt.timedelta(days=40), today)[-12]


@cache
def archive_of(years: int) -> tuple[pa.Table, tuple[dt.date, ...]]:
    table, days = build_archive(years, history_end())
    return table, tuple(days)


def median_times(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each action over ``repeats`` rounds. Each round runs every
    action once, in turn, so that a busy moment of the machine hits all of them alike;
    one unmeasured round first warms connections and caches."""
    for action in actions.values():
        action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def run_measuring_memory(
    command: Sequence[str], env: dict[str, str], cwd: Path = REPO
) -> tuple[int, float, str]:
    """Run ``command``; return its exit status, its own peak resident memory in MiB
    (``ru_maxrss`` from wait4, taken by ``memprobe.py``) and its output."""
    with tempfile.TemporaryDirectory(prefix="grok-bench-") as scratch:
        log, verdict = Path(scratch) / "output.log", Path(scratch) / "rusage.json"
        probe = [sys.executable, "-S", str(REPO / "benchmarks" / "memprobe.py"), str(verdict)]
        with log.open("wb") as output:
            subprocess.run(
                [*probe, "--", *command],
                env=env,
                cwd=cwd,
                stdout=output,
                stderr=output,
                check=True,
            )
        measured = json.loads(verdict.read_text())
        text = log.read_text(errors="replace")
    return int(measured["status"]), measured["maxrss_kib"] / 1024, text


def grok_assets_command() -> list[str]:
    """How an operator starts ``grok-assets``: the console script of this interpreter."""
    script = Path(sys.executable).parent / "grok-assets"
    if script.exists():
        return [str(script)]
    found = shutil.which("grok-assets")
    return [found] if found else [sys.executable, "-m", "grok_assets.cli.main"]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for child processes: this interpreter's bin first on PATH."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(REPO),
        "PYTHONWARNINGS": "ignore",
        "LANG": "C.UTF-8",
    }
    env.update(extra or {})
    return env


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        ram = f"{pages / 2**30:.1f} GiB"
    except (ValueError, OSError):
        ram = "unknown"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        # Other work on the machine slows the many-round-trip gate check most; say so.
        "load_average_at_start": load_average(),
    }


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# -- formatting -------------------------------------------------------------------------


def kib(count: float) -> str:
    return f"{count / 1024:,.1f} KiB" if count < 1024 * 1024 else f"{count / 2**20:,.2f} MiB"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def ratio(value: float) -> str:
    return f"{value:,.1f}x" if value >= 10 else f"{value:,.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table that also reads well in a terminal."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])
