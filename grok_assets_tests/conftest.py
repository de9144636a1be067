"""Fixtures every test shares: one loopback S3 server per session, a fresh bucket per
test, the store and the run resources on it, a local xAI Responses server and a local
Slack webhook.

Tests configure runs through resources and commands through an explicit environment
mapping; none changes the process environment to point the code somewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grok_assets.dev.s3_server import LoopbackS3, loopback_s3_server
from grok_assets.layout import Location
from grok_assets.settings import DEFAULT_PREFIX, Settings
from grok_assets.storage import S3Store
from grok_assets_tests.support import harness
from grok_assets_tests.support.pipeline import Pipeline
from grok_assets_tests.support.responses_server import FakeResponses, responses_server
from grok_assets_tests.support.slack_server import FakeSlack, fake_slack

_SYSTEM = Path(__file__).parent / "system"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under system/ (browser, PostgreSQL, subprocesses, soak) is marked, so
    # that `pytest -m "not system"` is the quick loop.
    for item in items:
        if _SYSTEM in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def s3() -> Iterator[LoopbackS3]:
    with loopback_s3_server() as server:
        yield server


@pytest.fixture
def bucket(s3: LoopbackS3) -> str:
    name = f"grok-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    return name


@pytest.fixture
def s3_client(s3: LoopbackS3) -> Any:
    return s3.client()


@pytest.fixture
def store(s3_client: Any, bucket: str) -> S3Store:
    """A store on the bucket through the ``s3_client`` fixture's client, so a test can
    watch that client's requests."""
    return S3Store(s3_client, Location(bucket, DEFAULT_PREFIX))


@pytest.fixture(scope="module")
def two_day_template(s3: LoopbackS3, request: pytest.FixtureRequest) -> str:
    """Two days of the cycle run once per test module (day 2 published and backed up)."""
    return harness.two_day_template(s3, request.module.__name__.rpartition(".")[2])


@pytest.fixture
def two_days(two_day_template: str, store: S3Store, s3_client: Any) -> S3Store:
    """This test's bucket, a copy of the module's two-day template."""
    harness.clone_bucket(s3_client, two_day_template, store.bucket)
    return store


@pytest.fixture
def environ(s3: LoopbackS3, bucket: str) -> dict[str, str]:
    """The environment an operator would set for this bucket (commands, subprocesses)."""
    return {**s3.environ(bucket), "GROK_SELECTOR": "replay"}


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    return Settings(environ)


@pytest.fixture
def pipeline(s3: LoopbackS3, bucket: str) -> Pipeline:
    return Pipeline(s3, bucket)


@pytest.fixture
def fake() -> Iterator[FakeResponses]:
    """A local server speaking xAI's Responses API (JSON and server-sent events)."""
    with responses_server() as server:
        yield server
    # Whatever a test did, nothing asked for the retired chat-completions route or
    # Live Search.
    for request in server.requests:
        assert request["path"] == "/v1/responses", request["path"]
        assert "search_parameters" not in request["body"] and "messages" not in request["body"]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as server:
        yield server
