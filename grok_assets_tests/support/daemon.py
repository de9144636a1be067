"""The production deployment on one machine, on a fake clock: the code location server
(``dagster api grpc -m grok_assets.definitions``) and ``dagster-daemon run`` with
``deploy/workspace.yaml``, on a ``DAGSTER_HOME`` holding ``deploy/dagster.yaml`` as
it is, against a PostgreSQL database; the run workers are the code server's children.

The clock is libfaketime's (Debian ``faketime``) in offset mode: ``FAKETIME=-N``
makes every process of the deployment, and every process any of them starts, read
real time plus the same offset, so they agree without sharing anything. Monotonic
time stays real (``FAKETIME_DONT_FAKE_MONOTONIC=1``) and ``faketime/sitecustomize.py``
repairs ``time.sleep`` for that mode.

The test process itself stays on the real clock and reads the instance through a
``dagster.yaml`` of its own naming the same database: it never changes its own
environment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.scheduler.instigation import InstigatorState, InstigatorType, TickStatus

from grok_assets.dev.s3_server import free_port
from grok_assets_tests.support.postgres import Postgres, unavailable

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHIM = Path(__file__).resolve().parent / "faketime"
DEPLOY_INSTANCE = REPO / "deploy" / "dagster.yaml"
DEPLOY_WORKSPACE = REPO / "deploy" / "workspace.yaml"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
ACTIVE = {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}
# Variables of the test process that must not leak into the deployment's processes.
_OWN_PREFIXES = ("AWS_", "GROK_", "DAGSTER_", "XAI_", "S3_", "FAKETIME", "LD_PRELOAD", "PYTHONPATH")

T = TypeVar("T")


def libfaketime() -> Path:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        unavailable("libfaketime not found (/usr/lib/*/faketime/libfaketime.so.1)", "faketime")
    return Path(found[0])


@dataclass(frozen=True)
class FakeClock:
    """Real time plus ``offset`` seconds, in every process given :meth:`env`."""

    offset: float

    @classmethod
    def starting_at(cls, moment: dt.datetime) -> FakeClock:
        return cls(moment.timestamp() - time.time())

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(time.time() + self.offset, dt.UTC)

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(libfaketime()),
            # Offset mode; the sign is required ("+-N" silently means real time).
            "FAKETIME": f"{self.offset:+.3f}",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "PYTHONPATH": str(SHIM),
            "TZ": "UTC",
            "PYTHONUNBUFFERED": "1",
        }


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[2])


class Group:
    """A process started in a session of its own, so that its id is also the id of the
    group every process it starts belongs to."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path, log: Path):
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def members(self) -> list[int]:
        if self.process is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _stat(int(entry.name))
                if stat is not None and stat[1] == self.pid and stat[0] not in {"Z", "X"}:
                    found.append(int(entry.name))
        return found

    def note(self) -> None:
        self.seen.update(self.members())

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, size: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} log ({self.log}) ---\n{text[-size:]}"

    def stop(self, grace: float = 30) -> None:
        """SIGTERM to the leader, which shuts its own children down; then whatever is
        left of the group is terminated, then killed."""
        if self.process is None:
            return
        self.note()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        deadline = time.monotonic() + 15
        while self.members() and time.monotonic() < deadline:
            time.sleep(0.2)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.members():
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            time.sleep(2)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)
        # A process killed by SIGKILL leaves libfaketime's shared memory behind, and a
        # later faked process given the same PID would refuse to start.
        for pid in self.seen | {self.pid}:
            if _stat(pid) is None:
                for leftover in (
                    f"/dev/shm/faketime_shm_{pid}",
                    f"/dev/shm/sem.faketime_sem_{pid}",
                ):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(leftover)


def _base_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}


class Deployment:
    """One deployment on its own database, fake clock and ``DAGSTER_HOME``."""

    def __init__(
        self,
        root: Path,
        database: Postgres,
        environ: Mapping[str, str],
        clock: FakeClock,
    ) -> None:
        self.root = root
        self.clock = clock
        self.started = time.monotonic()
        home = root / "dagster_home"
        home.mkdir(parents=True)
        shutil.copyfile(DEPLOY_INSTANCE, home / "dagster.yaml")
        reader_home = root / "reader"
        reader_home.mkdir()
        (reader_home / "dagster.yaml").write_text(database.instance_yaml())
        self.reader_home = reader_home
        self.port = free_port()
        self.env = {
            **_base_environ(),
            **environ,
            **database.env(),
            "DAGSTER_HOME": str(home),
            "GROK_CODE_LOCATION_HOST": "127.0.0.1",
            "GROK_CODE_LOCATION_PORT": str(self.port),
            **clock.env(),
        }
        self.code = Group(
            "code location",
            [
                *(str(BIN / "dagster"), "api", "grpc", "-h", "127.0.0.1"),
                *("-p", str(self.port), "-m", "grok_assets.definitions"),
            ],
            self.env,
            REPO,
            root / "code_location.log",
        )
        self.daemon = Group(
            "dagster-daemon",
            [str(BIN / "dagster-daemon"), "run", "-w", str(DEPLOY_WORKSPACE)],
            self.env,
            home,
            root / "daemon.log",
        )
        self._reader: DagsterInstance | None = None
        self.timeline: list[tuple[float, str]] = []

    # -- life ------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def mark(self, what: str) -> None:
        self.timeline.append((round(self.elapsed(), 1), what))

    def start(self, ready_timeout: float = 180) -> None:
        from dagster._grpc.client import DagsterGrpcClient

        self.started = time.monotonic()
        self.code.start()
        client = DagsterGrpcClient(port=self.port, host="127.0.0.1")

        def ready() -> bool:
            try:
                client.ping("ready?")
            except Exception:
                return False
            return True

        self.wait_for(ready, ready_timeout, "the code location server to answer", daemon=False)
        self.mark("code location server ready")
        self.daemon.start()
        self.mark("dagster-daemon started")

    def stop(self) -> None:
        try:
            if self._reader is not None:
                self._reader.dispose()
        finally:
            self.daemon.stop()
            self.code.stop()

    @property
    def reader(self) -> DagsterInstance:
        if self._reader is None:
            self._reader = DagsterInstance.from_config(str(self.reader_home))
        return self._reader

    def logs(self) -> str:
        return "\n".join([self.daemon.tail(), self.code.tail()])

    def wait_for(
        self,
        probe: Callable[[], T | None],
        timeout: float,
        what: str,
        *,
        daemon: bool = True,
        step: float = 0.25,
    ) -> T:
        deadline = time.monotonic() + timeout
        while True:
            self.code.note()
            self.daemon.note()
            if not self.code.alive() or (daemon and not self.daemon.alive()):
                raise AssertionError(f"a process died while waiting for {what}\n{self.logs()}")
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:.0f} s\n{self.logs()}")
            time.sleep(step)

    def launch(self, command: str) -> subprocess.Popen[str]:
        """Run an operator's command (``dagster job launch ...``) from the repository
        root, on the deployment's clock and instance."""
        argv = shlex.split(command)
        argv[0] = str(BIN / argv[0])
        return subprocess.Popen(
            argv,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    # -- reading the instance ----------------------------------------------------------

    def schedule_states(self) -> dict[str, InstigatorState]:
        states = self.reader.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
        return {state.instigator_name: state for state in states}

    def ticks(self, schedule: str, statuses: list[TickStatus] | None = None) -> list[Any]:
        state = self.schedule_states().get(schedule)
        if state is None:
            return []
        return list(
            self.reader.get_ticks(state.instigator_origin_id, state.selector_id, statuses=statuses)
        )

    def finished_run(self, run_id: str) -> Any:
        run = self.reader.get_run_by_id(run_id)
        return run if run is not None and run.status in FINISHED else None

    def step_errors(self, run_id: str) -> str:
        lines = []
        for entry in self.reader.all_logs(run_id):
            event = entry.dagster_event
            if event is not None and event.is_step_failure:
                error = event.step_failure_data.error
                lines.append(f"{event.step_key}: {error.to_string() if error else ''}")
        return "\n".join(lines)
