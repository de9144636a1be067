"""Settings from the environment, read at first use and never at import.

The definitions must load with an empty environment (``dagster definitions
validate``, the UI), so nothing here runs until an asset, check or command needs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


class MissingSettingError(RuntimeError):
    """A required environment variable is not set."""


DEFAULT_PREFIX = "parquet/"
DEFAULT_REGION = "ap-northeast-1"
DEFAULT_SELECTOR = "xai"
DEFAULT_MODEL = "grok-4"
SELECTORS = ("xai", "replay")


def _get(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def require(name: str, purpose: str) -> str:
    value = _get(name)
    if value is None:
        raise MissingSettingError(f"environment variable {name} is not set; it is needed {purpose}")
    return value


def s3_bucket() -> str:
    return require("S3_BUCKET", "to read and write the pipeline's S3 objects")


def s3_prefix() -> str:
    prefix = _get("S3_PREFIX")
    if prefix is None:
        return DEFAULT_PREFIX
    prefix = prefix.lstrip("/")
    return prefix if prefix.endswith("/") else prefix + "/"


def aws_region() -> str:
    return _get("AWS_REGION") or _get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def endpoint_url() -> str | None:
    """An S3-compatible endpoint; boto3 reads the same variable on its own."""
    return _get("AWS_ENDPOINT_URL_S3") or _get("AWS_ENDPOINT_URL")


def selector_kind() -> str:
    kind = (_get("GROK_SELECTOR") or DEFAULT_SELECTOR).lower()
    if kind not in SELECTORS:
        raise MissingSettingError(f"GROK_SELECTOR={kind!r} is not one of {', '.join(SELECTORS)}")
    return kind


def xai_api_key() -> str:
    return require("XAI_API_KEY", "to ask Grok for a selection (GROK_SELECTOR=xai)")


def grok_model() -> str:
    return _get("GROK_MODEL") or DEFAULT_MODEL


def xai_base_url() -> str:
    return _get("XAI_BASE_URL") or "https://api.x.ai/v1"


def _number(name: str, default: float, minimum: float) -> float:
    text = _get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise MissingSettingError(f"{name}={text!r} is not a number") from None
    if value < minimum:
        raise MissingSettingError(f"{name}={text!r} must be at least {minimum:g}")
    return value


def xai_timeout_seconds() -> float:
    """Per-request timeout; a hung connection fails after this, then is retried."""
    return _number("XAI_TIMEOUT_S", 120.0, 1.0)


def xai_max_attempts() -> int:
    return int(_number("XAI_MAX_ATTEMPTS", 4, 1))


@dataclass(frozen=True)
class Location:
    """Where the pipeline's objects live: one bucket, one key prefix."""

    bucket: str
    prefix: str

    def key(self, relative: str) -> str:
        return self.prefix + relative

    def relative(self, key: str) -> str:
        return key[len(self.prefix) :] if key.startswith(self.prefix) else key

    def uri(self, relative: str) -> str:
        return f"s3://{self.bucket}/{self.key(relative)}"


def location() -> Location:
    return Location(bucket=s3_bucket(), prefix=s3_prefix())
