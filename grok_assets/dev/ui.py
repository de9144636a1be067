"""``make ui`` (``grok-assets ui``): the Dagster UI over a few days of the cycle.

It starts moto's S3 server on loopback (unless ``AWS_ENDPOINT_URL`` and ``S3_BUCKET``
point at an empty store), runs the demo's cycle - five trading days, one selection
blocked by a missing backup, the restore and the pass - into a persistent
``DAGSTER_HOME`` (``.dagster_home/`` by default), then runs ``dagster dev`` on
``127.0.0.1:3000`` with the same store settings, so the UI shows the lineage, the
checks and the blocked run, and can launch more runs against the same bucket.

The schedules are stopped in this local instance (the demo's bucket holds November
2026 only, so a real 16:00 or 23:00 tick would fail against it); ``--keep-schedules``
leaves them as the code declares them (running).

``dagster dev`` runs in its own process group. Ctrl-C or SIGTERM stops that group
(by its process id, first with SIGINT as a terminal would, then SIGTERM, then SIGKILL),
then the S3 server; the exit code is 0 after a clean stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from grok_assets.settings import Settings

# Grace periods for each stop signal before escalating to the next one.
STOP_GRACE_SECONDS = (20.0, 10.0)
READY_TIMEOUT_SECONDS = 180.0


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the webserver binds: connections of a previous run in TIME_WAIT are no
        # obstacle, a listening server is.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def dagster_dev_command(host: str, port: int, workspace: Path | None) -> list[str]:
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster)] if dagster.exists() else [sys.executable, "-m", "dagster"]
    command.append("dev")
    if workspace is None and Path("workspace.yaml").is_file():
        workspace = Path("workspace.yaml")
    if workspace is not None:
        command += ["-w", str(workspace)]
    else:
        command += ["-m", "grok_assets.definitions"]
    return [*command, "-h", host, "-p", str(port)]


def server_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def graphql(url: str, query: str, variables: dict[str, object] | None = None) -> dict[str, Any]:
    """One request to the webserver's GraphQL API; raises on transport or API errors."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return dict(body["data"])


_SCHEDULES_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    schedules { name scheduleState { id status } } } } } }
"""
_STOP_SCHEDULE = """
mutation StopSchedule($id: String) { stopRunningSchedule(id: $id) {
    __typename ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message } } }
"""


def stop_schedules(url: str) -> list[str]:
    """Stop every running schedule in the instance the webserver at ``url`` serves."""
    stopped = []
    data = graphql(url, _SCHEDULES_QUERY)
    for repository in data["repositoriesOrError"].get("nodes", []):
        for schedule in repository["schedules"]:
            state = schedule["scheduleState"]
            if state["status"] != "RUNNING":
                continue
            result = graphql(url, _STOP_SCHEDULE, {"id": state["id"]})["stopRunningSchedule"]
            if result["__typename"] != "ScheduleStateResult":
                raise RuntimeError(f"could not stop {schedule['name']}: {result}")
            stopped.append(schedule["name"])
    return sorted(stopped)


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in process group ``pgid``.

    Zombies are ignored: an orphan whose new parent does not reap it (PID 1 in some
    containers) is already dead and would otherwise hold the group "alive" forever.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        # After the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            return True
    return False


def stop_process_group(child: subprocess.Popen[bytes]) -> None:
    """Stop ``child`` and every process of its group: SIGINT, SIGTERM, then SIGKILL."""
    pgid = child.pid  # start_new_session: the child leads its own group
    for sig, grace in (
        (signal.SIGINT, STOP_GRACE_SECONDS[0]),
        (signal.SIGTERM, STOP_GRACE_SECONDS[1]),
    ):
        if not group_alive(pgid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and group_alive(pgid):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.2)
            if child.returncode is not None and not group_alive(pgid):
                break
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=10)


def say(text: str) -> None:
    """One line to the terminal; a closed terminal or pipe must not stop the cleanup."""
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@dataclass(frozen=True)
class UiOptions:
    host: str
    port: int
    cycle_days: int
    keep_schedules: bool
    workspace: Path | None


def serve(options: UiOptions, settings: Settings) -> int:
    """Run the cycle, then ``dagster dev`` until it exits or we are interrupted."""
    from grok_assets.dev.demo import demo_target, play_demo

    url = f"http://{options.host}:{options.port}"
    with demo_target(settings, say) as target:
        say(f"running the demo's cycle into {target.home} ...")
        if play_demo(target, say, options.cycle_days) != 0:
            say("[warning] some of the demo's expectations did not hold; the UI shows why")
        command = dagster_dev_command(options.host, options.port, options.workspace)
        say(f"starting: {' '.join(command)}")
        child: subprocess.Popen[bytes] | None = None
        try:
            # Its own session and process group, so that it gets no signal meant for us
            # and can be stopped, with every process it starts, by its group id.
            child = subprocess.Popen(
                command,
                env=settings.environ_with(target.child_environ),
                start_new_session=True,
            )
            say(f"dagster dev started (process group {child.pid})")
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while child.poll() is None and not server_ready(url):
                if time.monotonic() > deadline:
                    say(f"[FAILED] the webserver did not answer at {url}")
                    return 1
                time.sleep(0.5)
            if child.returncode is not None:
                say(f"[FAILED] dagster dev exited with {child.returncode}")
                return 1
            if not options.keep_schedules:
                try:
                    stopped = stop_schedules(url)
                except (OSError, RuntimeError, KeyError) as error:
                    say(f"[warning] could not stop the schedules in this local instance: {error}")
                else:
                    if stopped:
                        say(
                            f"stopped {', '.join(stopped)} in this local instance (the demo's "
                            "data is for fixed past days); start them in the UI under Automation"
                        )
            say(
                f"Dagster UI ready at {url} (asset lineage: {url}/asset-groups, runs: "
                f"{url}/runs). S3 endpoint {target.store.endpoint_url}, store "
                f"{target.store.uri('')}. Ctrl-C stops everything."
            )
            returncode = child.wait()
            say(f"dagster dev exited with {returncode}")
            return returncode
        except KeyboardInterrupt:
            say("stopping dagster dev ...")
            return 0
        finally:
            # A second Ctrl-C must not leave the webserver or the daemon behind.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            if child is not None:
                stop_process_group(child)
                say("dagster dev stopped; stopping the S3 server")


def launch(options: UiOptions, settings: Settings) -> int:
    if not port_is_free(options.host, options.port):
        say(f"[FAILED] {options.host}:{options.port} is in use; choose another with --port")
        return 2
    # Installed before the child starts, so that it inherits the default dispositions,
    # even when this process was started with SIGINT ignored (a background job).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        return serve(options, settings)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
