"""Settings read from one snapshot of environment variables (``Settings(mapping)``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grok_assets.settings import VARIABLES, MissingSettingError, Settings, SettingsError


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


def test_grok_defaults_are_current() -> None:
    settings = Settings({})
    assert settings.grok_model == "grok-4.3"
    # A search-heavy Responses call can take many minutes.
    assert settings.xai_timeout_s == 1200.0
    assert settings.grok_x_handles == ()


def test_x_handles_are_cleaned() -> None:
    settings = Settings({"GROK_X_HANDLES": " @nikkei, kabutan_jp,,@Nikkei , minkabu_jp "})
    assert settings.grok_x_handles == ("nikkei", "kabutan_jp", "minkabu_jp")


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (",".join(f"h{n}" for n in range(11)), "at most 10"),
        ("nikkei, not a handle", "'not a handle' is not an X handle"),
        ("a_handle_longer_than_15", "is not an X handle"),
    ],
)
def test_bad_x_handles_are_refused(value: str, complaint: str) -> None:
    with pytest.raises(SettingsError, match="GROK_X_HANDLES") as caught:
        Settings({"GROK_X_HANDLES": value}).grok_x_handles  # noqa: B018
    assert complaint in str(caught.value)


def test_every_variable_is_read_listed_and_documented() -> None:
    # The names settings.py reads, settings.VARIABLES and the README's configuration
    # table are the same set: a new setting cannot be added to one and not the others.
    root = Path(__file__).resolve().parents[1]
    source = (root / "grok_assets" / "settings.py").read_text()
    read = set(re.findall(r'(?:get|require|_number)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    table = (root / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ")[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", "\n".join(first_cells)))
    listed = {variable.name for variable in VARIABLES}
    assert "GROK_X_HANDLES" in read
    assert read == listed == documented
