"""The live client against a local server speaking the chat-completions protocol."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from grok_assets.defs.resources import SelectorResource
from grok_assets.selection.answer import ModelAnswerError
from grok_assets.selection.xai import XaiClientSettings, XaiSelectionError, request_selection
from grok_assets.settings import DEFAULT_XAI_MAX_ATTEMPTS, DEFAULT_XAI_TIMEOUT_S, Settings
from grok_assets.storage import S3Store
from grok_assets_tests.support.chat_server import ANSWER, HANG, KEY, MODEL, FakeXai, Reply


def settings(fake: FakeXai, **overrides: Any) -> XaiClientSettings:
    values: dict[str, Any] = {"api_key": KEY, "model": MODEL, "base_url": fake.base_url}
    return XaiClientSettings(**{**values, "timeout_s": 5.0, **overrides})


def xai_selector(fake: FakeXai, **overrides: Any) -> SelectorResource:
    """The live selector configured as a run would configure it (the key aside, which
    only ever comes from ``XAI_API_KEY`` in the environment)."""
    values: dict[str, Any] = {
        "kind": "xai",
        "model": MODEL,
        "base_url": fake.base_url,
        "timeout_s": DEFAULT_XAI_TIMEOUT_S,
        "max_attempts": DEFAULT_XAI_MAX_ATTEMPTS,
    }
    return SelectorResource(**{**values, **overrides})


def assert_no_key(exc: BaseException) -> None:
    assert KEY not in str(exc)
    assert KEY not in repr(exc)
    # The SDK exception holds the request with its Authorization header.
    assert exc.__cause__ is None
    assert exc.__context__ is None


def test_good_answer(fake: FakeXai) -> None:
    fake.script = [Reply()]
    assert request_selection(settings(fake), "pick stocks") == ANSWER
    (request,) = fake.requests
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert request["body"]["model"] == MODEL
    assert request["body"]["messages"] == [{"role": "user", "content": "pick stocks"}]


def test_fenced_answer_is_returned_raw(fake: FakeXai) -> None:
    fenced = "```json\n" + ANSWER + "\n```"
    fake.script = [Reply(content=fenced)]
    assert request_selection(settings(fake), "p") == fenced


def test_rate_limit_then_success(fake: FakeXai) -> None:
    fake.script = [Reply(status=429, headers={"Retry-After": "0"}), Reply()]
    assert request_selection(settings(fake), "p") == ANSWER
    assert len(fake.requests) == 2


def test_server_error_until_exhaustion(fake: FakeXai) -> None:
    # retry-after-ms keeps the SDK's backoff (0.5 s, 1 s, 2 s) out of the test time.
    fake.script = [Reply(status=500, headers={"retry-after-ms": "10"})]
    with pytest.raises(XaiSelectionError) as info:
        request_selection(settings(fake), "p")  # max_attempts defaults to 4
    assert len(fake.requests) == 4
    message = str(info.value)
    assert MODEL in message and "HTTP 500" in message and "req-4" in message
    assert info.value.status_code == 500 and info.value.request_id == "req-4"
    assert_no_key(info.value)


def test_wrong_key_is_not_retried_nor_leaked(fake: FakeXai) -> None:
    fake.script = [Reply()]
    with pytest.raises(XaiSelectionError, match="HTTP 401") as info:
        request_selection(settings(fake, api_key="xai-WRONG-0123456789"), "p")
    assert len(fake.requests) == 1
    assert "xai-WRONG-0123456789" not in str(info.value)


def test_hung_response_times_out(fake: FakeXai) -> None:
    fake.script = [HANG]
    started = time.monotonic()
    with pytest.raises(XaiSelectionError, match="timed out") as info:
        request_selection(settings(fake, timeout_s=0.5, max_attempts=1), "p")
    assert time.monotonic() - started < 3
    assert len(fake.requests) == 1
    assert MODEL in str(info.value)
    assert_no_key(info.value)


@pytest.mark.parametrize("content", [None, "", "   \n"])
def test_empty_answer(fake: FakeXai, content: str | None) -> None:
    fake.script = [Reply(content=content)]
    with pytest.raises(XaiSelectionError, match="empty answer") as info:
        request_selection(settings(fake), "p")
    assert_no_key(info.value)


def test_settings_repr_hides_key() -> None:
    assert KEY not in repr(XaiClientSettings(api_key=KEY, model=MODEL))


def _answer_items(count: int) -> list[dict[str, object]]:
    return [
        {
            "code": str(7000 + index),
            "stock_name": f"Sample {index}",
            "reason": "sample",
            "category": "sample",
            "sentiment_score": 0.5,
            "policy_link": "Med",
            "has_mention": False,
            "mentioned_by": [],
        }
        for index in range(count)
    ]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("Sure! Here you go: " + json.dumps(_answer_items(12)) + " Good luck.", None),
        ('[{"code": "7203", "stock_name": "Toyota",]', "JSON"),
        (json.dumps(_answer_items(9)), "9"),
        (json.dumps(_answer_items(11) + _answer_items(1)), "7000"),
    ],
    ids=["prose-around-json", "malformed-json", "too-few", "duplicate-code"],
)
def test_selector_resource_validates_what_the_sdk_returns(
    fake: FakeXai,
    store: S3Store,
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    complaint: str | None,
) -> None:
    monkeypatch.setenv("XAI_API_KEY", KEY)
    fake.script = [Reply(content=content)]
    selector = xai_selector(fake)
    if complaint is None:
        table = selector.select(dt.date(2026, 11, 24), store)
        assert table.num_rows == 12
        assert set(table.column("model").to_pylist()) == {MODEL}
        return
    with pytest.raises(ModelAnswerError) as info:
        selector.select(dt.date(2026, 11, 24), store)
    assert complaint in str(info.value)
    assert MODEL in str(info.value)
    assert KEY not in str(info.value)


def test_timeout_and_attempts_come_from_the_settings(fake: FakeXai) -> None:
    # An unconfigured resource takes them (and the model and endpoint) from the
    # settings, i.e. the variables an operator sets.
    settings = Settings(
        {
            "GROK_MODEL": MODEL,
            "XAI_BASE_URL": fake.base_url,
            "XAI_TIMEOUT_S": "1",
            "XAI_MAX_ATTEMPTS": "1",
        }
    )
    config = SelectorResource(kind="xai").config(settings)
    assert (config.model, config.base_url) == (MODEL, fake.base_url)
    assert (config.timeout_s, config.max_attempts) == (1.0, 1)


def test_timeout_and_attempts_reach_the_client(
    fake: FakeXai, store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XAI_API_KEY", KEY)
    fake.script = [HANG]
    started = time.monotonic()
    with pytest.raises(XaiSelectionError, match="timed out"):
        xai_selector(fake, timeout_s=1, max_attempts=1).select(dt.date(2026, 11, 24), store)
    assert time.monotonic() - started < 5
    assert len(fake.requests) == 1
