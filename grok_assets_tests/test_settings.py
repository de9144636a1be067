"""Settings read from one snapshot of environment variables (``Settings(mapping)``)."""

from __future__ import annotations

import pytest

from grok_assets.settings import MissingSettingError, Settings, SettingsError


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_bucket_names_s3_bucket(value: str | None) -> None:
    settings = Settings({} if value is None else {"S3_BUCKET": value})
    with pytest.raises(MissingSettingError, match="S3_BUCKET"):
        settings.s3_bucket  # noqa: B018
    with pytest.raises(MissingSettingError, match="S3_BUCKET"):
        settings.location  # noqa: B018


def test_bucket_and_default_prefix() -> None:
    location = Settings({"S3_BUCKET": "my-bucket"}).location
    assert location.bucket == "my-bucket"
    assert location.prefix == "parquet/"
    assert location.uri("manifest.json") == "s3://my-bucket/parquet/manifest.json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "x/"), ("x/", "x/"), ("/x", "x/"), ("a/b", "a/b/"), ("  parquet  ", "parquet/")],
)
def test_prefix_is_normalised(value: str, expected: str) -> None:
    assert Settings({"S3_PREFIX": value}).s3_prefix == expected


def test_region_defaults_to_tokyo() -> None:
    assert Settings({}).aws_region == "ap-northeast-1"
    environ = {"AWS_DEFAULT_REGION": "us-west-2"}
    assert Settings(environ).aws_region == "us-west-2"
    environ["AWS_REGION"] = "eu-central-1"
    assert Settings(environ).aws_region == "eu-central-1"


def test_endpoint_url_prefers_the_s3_specific_variable() -> None:
    assert Settings({}).aws_endpoint_url is None
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    assert Settings(environ).aws_endpoint_url == "http://127.0.0.1:1"
    environ["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:2"
    assert Settings(environ).aws_endpoint_url == "http://127.0.0.1:2"


def test_selector_default_and_case() -> None:
    assert Settings({}).selector == "xai"
    assert Settings({"GROK_SELECTOR": "Replay"}).selector == "replay"


def test_bad_selector_is_refused() -> None:
    with pytest.raises(SettingsError, match="GROK_SELECTOR") as caught:
        Settings({"GROK_SELECTOR": "openai"}).selector  # noqa: B018
    # Set but malformed: not reported as missing.
    assert not isinstance(caught.value, MissingSettingError)
