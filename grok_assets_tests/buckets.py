"""A fresh bucket on the loopback S3 server, configured through the environment exactly
as an operator would configure a real store."""

from __future__ import annotations

import boto3
import pytest

from grok_assets.s3_server import LOOPBACK_CREDENTIALS

REGION = "ap-northeast-1"


def use_loopback_bucket(patch: pytest.MonkeyPatch, endpoint: str, bucket: str) -> dict[str, str]:
    """Create ``bucket`` and point the environment at it; returns the variables set."""
    env = {
        **LOOPBACK_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "S3_BUCKET": bucket,
        "S3_PREFIX": "parquet/",
        "GROK_SELECTOR": "replay",
    }
    for name, value in env.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "XAI_API_KEY"):
        patch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return env
