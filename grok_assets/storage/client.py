"""The S3 client for commands that run without Dagster.

The same botocore S3 client ``dagster_aws``'s ``S3Resource`` builds (standard retry
mode, the same attempts), so a command and a run talk to S3 the same way. Built from
botocore's session directly: importing ``dagster_aws`` would cost a command 1.5 s of
``import dagster``, and ``boto3`` adds s3transfer (60 ms), which nothing here uses.
"""

from __future__ import annotations

from typing import Any

from grok_assets.settings import Settings
from grok_assets.storage.store import S3Store

# S3Resource's default ``max_attempts``: 500, 503 SlowDown and connection errors are
# retried by botocore's standard mode, five attempts in all.
MAX_ATTEMPTS = 5


def s3_client(settings: Settings) -> Any:
    """Credentials as boto3's chain finds them: those in ``settings`` (the environment
    the command runs in) first, then ``AWS_PROFILE``, shared files, instance roles."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    if settings.aws_profile is not None:
        session.set_config_variable("profile", settings.aws_profile)
    return session.create_client(
        "s3",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"}),
        **settings.aws_credentials,
    )


def open_store(settings: Settings) -> S3Store:
    """The store ``settings`` point at (``S3_BUCKET``, ``S3_PREFIX``, the endpoint and
    the credentials)."""
    return S3Store(
        s3_client(settings),
        settings.location,
        allow_unconditional=settings.allow_unconditional_store,
    )
