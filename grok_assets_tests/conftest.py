from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from grok_assets.config import Location
from grok_assets.s3_server import LOOPBACK_CREDENTIALS, loopback_s3_server
from grok_assets.storage import S3Store

REGION = "ap-northeast-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with loopback_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh bucket on the loopback server, configured through the environment
    exactly as an operator would configure a real store."""
    bucket = f"grok-test-{uuid.uuid4().hex[:12]}"
    env = {
        **LOOPBACK_CREDENTIALS,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_REGION": REGION,
        "S3_BUCKET": bucket,
        "S3_PREFIX": "parquet/",
        "GROK_SELECTOR": "replay",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "XAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return env


@pytest.fixture
def s3_client(s3_env: dict[str, str]):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name=REGION)


@pytest.fixture
def store(s3_env: dict[str, str], s3_client) -> S3Store:  # type: ignore[no-untyped-def]
    return S3Store(s3_client, Location(bucket=s3_env["S3_BUCKET"], prefix=s3_env["S3_PREFIX"]))
