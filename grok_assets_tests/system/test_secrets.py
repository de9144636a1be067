"""The xAI API key, the AWS secret key and the alert webhook URL never leave the
process that holds them.

A full cycle runs in real subprocesses, so that everything they print is captured,
Dagster's console logger at DEBUG included, with the debug logs of openai, httpx and
botocore's credential resolution routed into Dagster as well. One process (a driver
written into tmp_path) runs the selection and backtest jobs for two days against a
local Responses API server streaming its answers, an xAI call answered 401 and one
answered 500 (the fake server echoes the key in its error message, as a careless proxy
might), an answer refused because no search ran, a selection blocked by the gate, the
alert sensor posting those failures to a loopback Slack webhook (and failing to reach a
webhook that is down, as the daemon would log it, with slack_sdk's own loggers at
DEBUG), then the code of ``grok-assets verify``, ``restore``, ``check``, ``fsck``,
``sync`` and ``cleanup``, and last a failing run whose exception is left uncaught; a
second process runs the checks-only job through ``dagster job execute``. Both get
canary values for ``XAI_API_KEY``, ``AWS_SECRET_ACCESS_KEY`` and
``GROK_ALERT_WEBHOOK_URL`` and a persistent ``DAGSTER_HOME``.

Then neither canary, nor any 12-character piece of one (a truncated leak is still a
leak), may appear in: the stdout and stderr of both processes; any file under the
test's directory (``DAGSTER_HOME`` with its SQLite event logs, compute logs and
telemetry, the sync destination, the working directory, ``HOME``); any object or
object metadata in the bucket, the evidence files with the whole responses and what was
asked among them; the run records and event logs read back through
``DagsterInstance.from_config`` (step failures, check results, metadata); the
requests sent to the model; the alerts posted to Slack. And the test is live: the key
did reach the model server's Authorization header, every S3 request was signed with
credentials resolved from the canary secret, the evidence files were written, the 401,
500 and no-search failures, with the echoed key scrubbed, are in the event log, and the
alerts reached the webhook at the canary URL.

Separately, the exception a failed xAI call raises must not hold the key anywhere a
reporter could reach it, its suppressed ``__context__`` included.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, serialize_value

from grok_assets import layout
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.dev.sample_data import SAMPLE_UNIVERSE, sample_picks
from grok_assets.dev.seeding import seed_sample
from grok_assets.selection.xai import (
    SearchRequest,
    XaiClientSettings,
    XaiSelectionError,
    request_response,
)
from grok_assets.storage import S3Store
from grok_assets_tests.support import responses_server as srv
from grok_assets_tests.support.pipeline import DAYS
from grok_assets_tests.support.responses_server import KEY, MODEL, FakeResponses
from grok_assets_tests.support.slack_server import FakeSlack

# Shaped like real credentials, and unlike anything else in the system.
AWS_ACCESS_KEY_ID = "AKIAGROKCANARY000001"
AWS_SECRET = "grokCanaryAwsSecret5q8Zr2Lx7Vn4Tb1Hk9Jw3Pm"
# The secret part of a Slack incoming-webhook URL (after https://hooks.slack.com/services/).
WEBHOOK_SECRET = "TGROKCANARY/BGROKCANARY/grokCanaryWebhook4Lp8Qz3Vy6"
CANARIES = {
    "XAI_API_KEY": KEY,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    "GROK_ALERT_WEBHOOK_URL": WEBHOOK_SECRET,
}
FRAGMENT = 12
BIN = Path(sys.executable).parent

# The xAI calls of the driver, in order: the fake answers by position.
OK, NO_SEARCH, UNAUTHORIZED, SERVER_ERROR, NO_CREDITS = "ok", "no search", 401, 500, 403


def _needles(secret: str) -> list[bytes]:
    pieces = {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}
    return [piece.encode() for piece in sorted(pieces)]


NEEDLES = {name: _needles(secret) for name, secret in CANARIES.items()}


def leaks(data: bytes | str) -> list[str]:
    """Names of the canaries any piece of which occurs in ``data``."""
    blob = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return [name for name, needles in NEEDLES.items() if any(n in blob for n in needles)]


# -- the driver: the jobs as the daemon runs them, in a process of their own ----------------

DRIVER = r'''
"""Runs the pipeline's jobs against the Dagster instance in DAGSTER_HOME, then the
operator's commands, all in this one process (each Python start costs seconds)."""
import dataclasses
import json
import logging
import os
import socket
import sys
from urllib.parse import urlsplit

import boto3
import botocore.handlers
from dagster import DagsterInstance, build_sensor_context

from grok_assets.cli.main import main as cli
from grok_assets.definitions import defs
from grok_assets.defs.resources import AlertWebhookResource, make_storage_resource
from grok_assets.defs.sensors import alert_on_run_failure

ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]
seen = {"sent": 0, "without_access_key_id": 0, "with_secret": 0, "alerts": 0, "undelivered": 0}
# slack_sdk's own loggers at DEBUG: they log the URL of every request they are given.
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
logging.getLogger("slack_sdk").setLevel(logging.DEBUG)


def inspect(request, **kwargs):
    # An observer: returns None, so botocore sends the signed request unchanged.
    headers = {
        name: value.decode() if isinstance(value, bytes) else str(value)
        for name, value in request.headers.items()
    }
    seen["sent"] += 1
    if f"Credential={ACCESS_KEY_ID}/" not in headers.get("Authorization", ""):
        seen["without_access_key_id"] += 1
    if SECRET in request.url or any(SECRET in value for value in headers.values()):
        seen["with_secret"] += 1


# botocore copies this table into every session, so every client the code creates
# has the observer.
botocore.handlers.BUILTIN_HANDLERS.append(("before-send.s3", inspect))
DEBUG = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
alert_cursor = [None]


def webhook_that_is_down():
    # The canary URL with its port moved to one nothing listens on.
    url = urlsplit(os.environ["GROK_ALERT_WEBHOOK_URL"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return AlertWebhookResource(url=url._replace(netloc=f"127.0.0.1:{port}").geturl())


def alerts(instance, webhook):
    """alert_on_run_failure's ticks over the runs since the last, as the daemon ticks."""
    while True:
        context = build_sensor_context(
            instance=instance,
            cursor=alert_cursor[0],
            repository_def=defs.get_repository_def(),
            resources={"alert_webhook": webhook},
        )
        result = alert_on_run_failure.evaluate_tick(context)
        alert_cursor[0] = result.cursor
        reactions = result.dagster_run_reactions or []
        for reaction in reactions:
            if reaction.error is None:
                seen["alerts"] += 1
            else:
                # What the daemon logs, and keeps on the sensor's tick.
                seen["undelivered"] += 1
                print(reaction.error.to_string(), file=sys.stderr, flush=True)
        if not reactions:
            return


def run(instance, job, day, raise_on_error=False):
    result = defs.resolve_job_def(job).execute_in_process(
        partition_key=day, instance=instance, raise_on_error=raise_on_error, run_config=DEBUG
    )
    print(f"{job} {day}: {'success' if result.success else 'failed'}", flush=True)
    for event in result.all_events:
        if event.is_step_failure:
            # What an operator reads: the whole error, its causes included.
            print(event.step_failure_data.error.to_string(), file=sys.stderr, flush=True)


with DagsterInstance.get() as instance:
    for step in json.loads(sys.argv[1]):
        if step[0] == "delete":
            make_storage_resource().store().delete(step[1])
        elif step[0] == "alerts":
            webhook = webhook_that_is_down() if step[1] == "down" else AlertWebhookResource()
            alerts(instance, webhook)
        elif step[0] == "cli":
            # The commands' own code, printing to this process's stdout and stderr.
            print(f"grok-assets {step[1][0]}: exit {cli(step[1])}", flush=True)
        else:
            run(instance, step[1], step[2])
    frozen = boto3.session.Session().get_credentials().get_frozen_credentials()
    seen["signing_secret_is_the_canary"] = frozen.secret_key == SECRET
    print("SUMMARY " + json.dumps(seen), flush=True)
    job, day = json.loads(sys.argv[2])
    # Not caught: Python prints the exception with its whole chain to stderr.
    run(instance, job, day, raise_on_error=True)
'''

# Library debug logs routed into Dagster's event log and console, as an operator
# chasing a problem might configure it: a library that logged a header or a
# credential would put it where the test looks. (botocore.auth, which logs every
# canonical request, is left out: a thousand events, and it never logs the secret.)
DAGSTER_YAML = """\
python_logs:
  python_log_level: DEBUG
  managed_python_loggers: [grok_assets, openai, httpx, botocore.credentials]
"""


def _failure(status: int) -> srv.Failure:
    """An error answer whose text echoes the key, as a careless proxy might;
    retry-after-ms keeps the wait before a retry out of the test time."""
    fast = {"retry-after-ms": "10"}
    if status == SERVER_ERROR:
        return srv.server_error(fast)
    if status == NO_CREDITS:
        return dataclasses.replace(srv.credits_403(), message=f"{srv.CREDITS_MESSAGE} ({KEY})")
    return srv.Failure(status, "unauthenticated", f"invalid credentials {KEY}", fast)


def _script(days: list[str], plan: list[object]) -> list[srv.Reply]:
    replies: list[srv.Reply] = []
    answers = iter(days)
    for kind in plan:
        if kind == OK:
            replies.append(srv.grounded(sample_picks(next(answers), SAMPLE_UNIVERSE)))
        elif kind == NO_SEARCH:
            replies.append(srv.no_search(sample_picks(days[0], SAMPLE_UNIVERSE)))
        else:
            replies.append(_failure(int(str(kind))))
    return replies


class Processes:
    """Runs commands with the canary environment and keeps everything they print."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.outputs: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(self, label: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            args, env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=180
        )
        self.outputs[label] = done
        return done

    def texts(self) -> Iterator[tuple[str, str]]:
        for label, done in self.outputs.items():
            yield f"{label}: stdout", done.stdout
            yield f"{label}: stderr", done.stderr


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stdout + done.stderr)[-1500:]


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(root)), path.read_bytes()


def _bucket(client: Any, bucket: str) -> Iterator[tuple[str, bytes]]:
    # The whole bucket, not only the prefix: a leak may land anywhere.
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            response = client.get_object(Bucket=bucket, Key=item["Key"])
            yield f"s3://{bucket}/{item['Key']}", response["Body"].read()
            yield f"s3://{bucket}/{item['Key']} metadata", repr(response["Metadata"]).encode()


def _instance_records(home: Path) -> Iterator[tuple[str, str]]:
    """Run records and every event log entry, read back through Dagster's own API."""
    with DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            yield f"run {run.job_name} {run.run_id}", serialize_value(run)
            for entry in instance.all_logs(run.run_id):
                yield f"event log of {run.job_name} {run.run_id}", serialize_value(entry)


def _failure_texts(home: Path) -> list[str]:
    with DagsterInstance.from_config(str(home)) as instance:
        return [
            entry.dagster_event.step_failure_data.error.to_string()
            for run in instance.get_runs()
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event is not None
            and entry.dagster_event.is_step_failure
            and entry.dagster_event.step_failure_data.error is not None
        ]


def _found(sources: Iterable[tuple[str, bytes | str]]) -> list[str]:
    return [f"{name} in {where}" for where, data in sources for name in leaks(data)]


def test_leak_search_finds_a_truncated_canary() -> None:
    # The search must not be vacuous: a 12-character piece of either canary is found.
    assert leaks(b"...Bearer " + KEY[:FRAGMENT].encode()) == ["XAI_API_KEY"]
    assert leaks("secret=" + AWS_SECRET[-FRAGMENT:]) == ["AWS_SECRET_ACCESS_KEY"]
    assert leaks("/services/" + WEBHOOK_SECRET[-FRAGMENT:]) == ["GROK_ALERT_WEBHOOK_URL"]
    assert leaks("xai-*** and nothing else") == []


def _canary_env(
    s3: LoopbackS3,
    bucket: str,
    environ: dict[str, str],
    fake: FakeResponses,
    slack: FakeSlack,
    tmp_path: Path,
) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "XAI_", "GROK_", "DAGSTER_"))
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "AWS_ENDPOINT_URL": s3.endpoint,
            "AWS_REGION": environ["AWS_REGION"],
            "S3_BUCKET": bucket,
            "S3_PREFIX": environ["S3_PREFIX"],
            "GROK_SELECTOR": "xai",
            "XAI_API_KEY": KEY,
            "GROK_MODEL": MODEL,
            "XAI_BASE_URL": fake.base_url,
            "XAI_MAX_ATTEMPTS": "2",
            "XAI_TIMEOUT_S": "20",
            "GROK_ALERT_WEBHOOK_URL": f"{slack.base_url}/services/{WEBHOOK_SECRET}",
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            # No ~/.aws or other user configuration; whatever lands in HOME is
            # searched with the rest of tmp_path.
            "HOME": str(tmp_path / "home"),
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def test_full_cycle_leaks_no_secret(
    store: S3Store,
    s3: LoopbackS3,
    bucket: str,
    environ: dict[str, str],
    s3_client: Any,
    fake: FakeResponses,
    slack: FakeSlack,
    tmp_path: Path,
) -> None:
    seed_sample(store, DAYS[0], DAYS[-1])  # setup in this process; the cycle is not
    env = _canary_env(s3, bucket, environ, fake, slack, tmp_path)
    home = Path(env["DAGSTER_HOME"])
    for directory in (home, Path(env["HOME"]), tmp_path / "work"):
        directory.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    day = [d.isoformat() for d in DAYS]
    as_of = "2026-12-31"  # every dated file is old by then
    steps = [
        ["alerts", "watch"],  # the sensor starts watching, as when the daemon starts
        ["job", "selection_job", day[0]],
        ["job", "backtest_job", day[0]],
        ["job", "selection_job", day[1]],  # xAI answers 401
        ["job", "selection_job", day[1]],  # xAI answers 500, twice (one retry)
        ["job", "selection_job", day[1]],  # an answer without search: refused
        ["job", "selection_job", day[1]],
        ["job", "backtest_job", day[1]],
        ["delete", layout.daily_backup_key(DAYS[1])],
        ["job", "selection_job", day[2]],  # blocked: day 1's backup is gone
        ["alerts", "up"],  # the 401, the 500, the refused answer, the blocked selection
        ["job", "selection_job", day[2]],  # blocked again ...
        ["alerts", "down"],  # ... and its alert cannot be delivered
        ["cli", ["verify", "--date", day[1]]],
        ["cli", ["restore", "--date", day[1]]],
        ["cli", ["verify", "--date", day[1]]],
        ["cli", ["check"]],
        ["cli", ["fsck"]],
        ["cli", ["sync", "--dest", str(tmp_path / "sync")]],
        ["cli", ["cleanup", "--dry-run", "--as-of", as_of]],
    ]
    final = ["selection_job", day[3]]  # xAI answers 401; the exception is not caught
    plan = [OK, UNAUTHORIZED, SERVER_ERROR, SERVER_ERROR, NO_SEARCH, OK, OK, UNAUTHORIZED]
    fake.script = _script([day[0], day[1], day[2]], plan)
    processes = Processes(env, tmp_path / "work")

    cycle = processes.run(
        "driver", [sys.executable, str(driver), json.dumps(steps), json.dumps(final)]
    )
    # The checks-only job as CI runs it, through Dagster's CLI; in one process (each
    # step in a process of its own costs seconds per step), which still writes compute
    # logs and event logs into DAGSTER_HOME.
    in_process = tmp_path / "in_process.yaml"
    in_process.write_text("execution:\n  config:\n    in_process: {}\n")
    job = ["-m", "grok_assets.definitions", "-j", "verify_backups_job", "-c", str(in_process)]
    checks = processes.run("dagster job execute", [str(BIN / "dagster"), "job", "execute", *job])

    # The cycle did what it should, so there was something to leak.
    assert cycle.returncode == 1, _tail(cycle)  # the uncaught failure, and only it
    outcome = re.compile(r"(\w+_job \S+|grok-assets \w+): (success|failed|exit \d)")
    outcomes = [m.groups() for m in map(outcome.fullmatch, cycle.stdout.splitlines()) if m]
    # Exit 1 is a finding (fsck on the blocked run's unlisted candidates, say): the
    # command ran. Exit 2 would be an error, and would have exercised less.
    ran = {"exit 0", "exit 1"}
    expected = [
        (f"selection_job {day[0]}", {"success"}),
        (f"backtest_job {day[0]}", {"success"}),
        (f"selection_job {day[1]}", {"failed"}),
        (f"selection_job {day[1]}", {"failed"}),
        (f"selection_job {day[1]}", {"failed"}),
        (f"selection_job {day[1]}", {"success"}),
        (f"backtest_job {day[1]}", {"success"}),
        (f"selection_job {day[2]}", {"failed"}),
        (f"selection_job {day[2]}", {"failed"}),
        ("grok-assets verify", {"exit 1"}),  # the backup was deleted
        ("grok-assets restore", {"exit 0"}),
        ("grok-assets verify", {"exit 0"}),
        ("grok-assets check", ran),
        ("grok-assets fsck", ran),
        ("grok-assets sync", {"exit 0"}),
        ("grok-assets cleanup", ran),
    ]
    assert [step for step, _ in outcomes] == [step for step, _ in expected], _tail(cycle)
    for (step, result), (_, wanted) in zip(outcomes, expected, strict=True):
        assert result in wanted, f"{step}: {result}\n{_tail(cycle)}"
    assert "XaiSelectionError" in cycle.stderr and "HTTP 401" in cycle.stderr
    assert checks.returncode in (0, 1), _tail(checks)
    assert "ASSET_CHECK_EVALUATION" in checks.stdout + checks.stderr, _tail(checks)
    # Live: the key reached the model server, and only in the Authorization header; the
    # answers were streamed, and their evidence (whole responses) was written.
    assert len(fake.requests) == len(plan)
    assert all(r["body"].get("stream") is True for r in fake.requests)
    stored = {item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    for selected in DAYS[:3]:
        assert environ["S3_PREFIX"] + layout.answer_key(selected) in stored
    assert {r["headers"]["authorization"] for r in fake.requests} == {f"Bearer {KEY}"}
    assert _found(("a request to xAI", json.dumps(r["body"])) for r in fake.requests) == []
    # Live: S3 requests were signed with credentials resolved from the canary secret.
    (summary,) = [line for line in cycle.stdout.splitlines() if line.startswith("SUMMARY ")]
    signing = json.loads(summary.removeprefix("SUMMARY "))
    assert signing["sent"] > 100
    assert signing == {**signing, "without_access_key_id": 0, "with_secret": 0}
    assert signing["signing_secret_is_the_canary"] is True
    # Live: the alerts reached the webhook at the canary URL, and one could not.
    assert signing["alerts"] == 4 and signing["undelivered"] == 1
    assert len(slack.messages) == 4
    assert {r.path for r in slack.received} == {f"/services/{WEBHOOK_SECRET}"}
    assert "could not be reached: connection refused" in cycle.stderr
    # Live: the failures happened and were recorded, the echoed key scrubbed.
    failures = "\n".join(_failure_texts(home))
    for evidence in ("HTTP 401", "HTTP 500", "key ***", "no live search ran"):
        assert evidence in failures, evidence
    assert any((tmp_path / "sync").rglob("*.parquet"))

    found = _found(processes.texts())
    found += _found(_files(tmp_path))
    found += _found(_bucket(s3_client, bucket))
    found += _found(_instance_records(home))
    found += _found(("an alert posted to Slack", json.dumps(r.payload)) for r in slack.received)
    assert not found, "secrets leaked:\n" + "\n".join(found)


# -- exceptions ---------------------------------------------------------------------------


def _everything_an_exception_holds(error: BaseException) -> str:
    """What a reporter could render from an exception: every exception in its chain,
    the suppressed ``__context__`` included, with args, attributes, and an SDK error's
    request and response."""
    parts: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        for name in ("request", "response"):
            message = getattr(current, name, None)
            if message is not None:
                parts += [repr(message), repr(dict(message.headers)), str(message.url)]
                if name == "response":
                    parts.append(message.text)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
    return "\n".join(parts)


@pytest.mark.parametrize("status", [UNAUTHORIZED, SERVER_ERROR, NO_CREDITS])
@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
def test_a_failed_xai_call_raises_an_exception_that_does_not_hold_the_key(
    fake: FakeResponses, status: int, stream: bool
) -> None:
    # The server echoes the key in its error message; the SDK's own exception keeps
    # the request with its Authorization header.
    fake.script = [_failure(status)]
    settings = XaiClientSettings(
        api_key=KEY,
        model=MODEL,
        base_url=fake.base_url,
        timeout_s=5.0,
        max_attempts=1,
        stream=stream,
    )
    request = SearchRequest("pick stocks", DAYS[0], DAYS[1])
    with pytest.raises(XaiSelectionError) as info:
        request_response(settings, request)
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"  # live
    held = _everything_an_exception_holds(info.value)
    assert f"HTTP {status}" in held
    assert leaks(held) == [], (
        "the raised exception still holds the key (through its suppressed __context__)"
    )
