from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from grok_assets.config import Location
from grok_assets.s3_server import loopback_s3_server
from grok_assets.storage import S3Store
from grok_assets_tests.buckets import REGION, use_loopback_bucket
from grok_assets_tests.chat_server import FakeXai, make_handler


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with loopback_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh bucket on the loopback server, configured through the environment
    exactly as an operator would configure a real store."""
    return use_loopback_bucket(monkeypatch, s3_endpoint, f"grok-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def s3_client(s3_env: dict[str, str]):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name=REGION)


@pytest.fixture
def store(s3_env: dict[str, str], s3_client) -> S3Store:  # type: ignore[no-untyped-def]
    return S3Store(s3_client, Location(bucket=s3_env["S3_BUCKET"], prefix=s3_env["S3_PREFIX"]))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeXai]:
    # A proxy configured in the environment must not intercept loopback traffic.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake_xai = FakeXai(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    server.RequestHandlerClass = make_handler(fake_xai)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake_xai
    fake_xai.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)
