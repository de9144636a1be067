"""The Responses client through the real openai SDK against a local server speaking the
protocol, once as server-sent events and once as JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from typing import Any

import pytest

from grok_assets.defs.resources import SelectorResource
from grok_assets.selection import grounding
from grok_assets.selection.picks import text_format
from grok_assets.selection.xai import (
    DEFAULT_RETRY_AFTER_S,
    TRANSIENT_RETRY_DELAY_S,
    SearchRequest,
    XaiClientSettings,
    XaiResponse,
    XaiSelectionError,
    build_tools,
    request_response,
)
from grok_assets.settings import Settings, SettingsError
from grok_assets_tests.support import responses_server as srv
from grok_assets_tests.support.picks import KABUTAN_CITED, day_picks, grounded_answer, post_id

FROM = dt.date(2026, 11, 20)  # Friday: the last close before Monday N
TO = dt.date(2026, 11, 22)  # Sunday: the evening the selection runs
HANDLES = ("@nikkei", "kabutan_jp")
PROMPT = "東証の明日のデイトレ候補を10から15銘柄選んでください。"


@pytest.fixture(params=[True, False], ids=["sse", "json"])
def stream(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def settings(fake: srv.FakeResponses, stream: bool, **overrides: Any) -> XaiClientSettings:
    values: dict[str, Any] = {
        "api_key": srv.KEY,
        "model": srv.MODEL,
        "base_url": fake.base_url,
        "timeout_s": 5.0,
        "max_attempts": 4,
        "stream": stream,
    }
    return XaiClientSettings(**{**values, **overrides})


def search_request(**overrides: Any) -> SearchRequest:
    values: dict[str, Any] = {"prompt": PROMPT, "from_date": FROM, "to_date": TO}
    return SearchRequest(**{"handles": HANDLES, **values, **overrides})


class Sleeps(list[float]):
    """Records the waits between attempts instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def ask(
    fake: srv.FakeResponses, stream: bool, sleeps: Sleeps | None = None, **kw: Any
) -> XaiResponse:
    return request_response(
        settings(fake, stream, **kw), search_request(), sleep=Sleeps() if sleeps is None else sleeps
    )


def assert_no_key(exc: BaseException, key: str = srv.KEY) -> None:
    assert key not in str(exc)
    assert key not in repr(exc)
    # The SDK exception holds the request with its Authorization header.
    assert exc.__cause__ is None
    assert exc.__context__ is None


def fail(
    fake: srv.FakeResponses, stream: bool, sleeps: Sleeps | None = None, **kw: Any
) -> XaiSelectionError:
    with pytest.raises(XaiSelectionError) as info:
        ask(fake, stream, sleeps, **kw)
    assert_no_key(info.value)
    return info.value


def said(error: XaiSelectionError, status: str, request_id: str) -> str:
    """The message, having checked it names the model, the status and the request id."""
    message = str(error)
    assert f"model {srv.MODEL}" in message
    assert status in message
    assert f"request id {request_id}" in message
    return message


# -- answers -----------------------------------------------------------------------------


def test_grounded_answer(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [grounded_answer()]
    response = ask(fake, stream)

    assert response.model(srv.MODEL) == srv.SERVED_MODEL
    assert response.request_id == "req-1"
    assert response.response_id == response.body["id"]
    assert response.attempts == 1
    json.dumps(response.body)  # JSON-able as it stands
    usage = grounding.search_usage(response.body)
    assert usage.ran and usage.per_tool() == {"x_search": 2, "web_search": 1}
    assert grounding.citation_urls(response.body)[:2] == [
        f"https://x.com/i/status/{post_id(0)}",
        KABUTAN_CITED,
    ]
    assert grounding.cost_usd(response.body) is not None
    assert json.loads(grounding.output_text(response.body))["picks"] == day_picks()[0]


def test_request_body(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [grounded_answer()]
    ask(fake, stream)
    (request,) = fake.requests
    body = request["body"]
    assert request["path"] == "/v1/responses"
    assert request["headers"]["authorization"] == f"Bearer {srv.KEY}"
    assert body["model"] == srv.MODEL
    assert body["input"] == [{"role": "user", "content": PROMPT}]
    assert body["tools"] == [
        {
            "type": "x_search",
            "from_date": "2026-11-20",
            "to_date": "2026-11-22",
            "allowed_x_handles": ["nikkei", "kabutan_jp"],
        },
        {"type": "web_search"},
    ]
    assert body["include"] == ["no_inline_citations"]
    assert body["store"] is False
    assert body["text"] == {"format": text_format()}
    assert body["text"]["format"]["strict"] is True
    assert body.get("stream", False) is stream
    assert "search_parameters" not in body and "messages" not in body


def test_x_search_as_custom_tool_call(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.x_search_as_custom_tool(day_picks()[0])]
    body = ask(fake, stream).body
    kinds = [item["type"] for item in body["output"]]
    assert kinds.count("custom_tool_call") == 2 and "x_search_call" not in kinds
    usage = grounding.search_usage(body)
    assert usage.ran and usage.items["x_search"] == 2


def test_an_answer_without_search_is_returned_for_grounding_to_refuse(
    fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [srv.no_search(day_picks()[0])]
    body = ask(fake, stream).body
    assert not grounding.search_usage(body).ran
    assert grounding.citation_urls(body) == []


# -- failures ------------------------------------------------------------------------------


def test_410_says_the_feature_is_gone(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.gone_410()]
    error = fail(fake, stream)
    assert error.kind == "gone" and error.status_code == 410 and len(fake.requests) == 1
    message = said(error, "HTTP 410", "req-1")
    assert "the feature or endpoint is gone" in message
    assert "Live search is deprecated" in message


def test_429_then_success_honours_retry_after(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.rate_limited(retry_after="7"), grounded_answer()]
    sleeps = Sleeps()
    response = ask(fake, stream, sleeps)
    assert sleeps == [7.0]
    assert len(fake.requests) == 2 and response.attempts == 2 and response.request_id == "req-2"


def test_429_without_retry_after_waits_the_default(fake: srv.FakeResponses) -> None:
    fake.script = [srv.rate_limited(retry_after=None), grounded_answer()]
    sleeps = Sleeps()
    ask(fake, True, sleeps)
    assert sleeps == [DEFAULT_RETRY_AFTER_S]


def test_429_asking_too_long_a_wait_is_not_retried(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.rate_limited(retry_after="3600"), grounded_answer()]
    sleeps = Sleeps()
    error = fail(fake, stream, sleeps)
    assert error.kind == "rate_limited" and len(fake.requests) == 1 and sleeps == []
    assert "Retry-After asks for 3600 s" in said(error, "HTTP 429", "req-1")


def test_429_retries_stop_at_max_attempts(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.rate_limited(retry_after="0")]
    error = fail(fake, stream, max_attempts=3)
    assert len(fake.requests) == 3 and error.attempts == 3
    assert "XAI_MAX_ATTEMPTS is 3" in said(error, "HTTP 429", "req-3")


@pytest.mark.parametrize("reply", [srv.credits_403(), srv.credits_429()], ids=["403", "429"])
def test_out_of_credits_is_not_retried(
    fake: srv.FakeResponses, stream: bool, reply: srv.Failure
) -> None:
    fake.script = [reply, grounded_answer()]
    error = fail(fake, stream)
    assert len(fake.requests) == 1 and error.kind == "credits" and error.attempts == 1
    message = said(error, f"HTTP {reply.status}", "req-1")
    assert "not retried" in message and "credits" in message and "spending limit" in message


def test_500_then_success(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.server_error(), grounded_answer()]
    sleeps = Sleeps()
    response = ask(fake, stream, sleeps)
    assert len(fake.requests) == 2 and response.attempts == 2 and response.request_id == "req-2"
    assert sleeps == [TRANSIENT_RETRY_DELAY_S]


def test_500_twice_fails_after_one_retry(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.server_error()]
    error = fail(fake, stream, max_attempts=4)
    assert len(fake.requests) == 2 and error.attempts == 2 and error.kind == "server_error"
    message = said(error, "HTTP 500", "req-2")
    assert "retried once already; each attempt repeats a paid search" in message
    # The server echoed the key in its message; it is redacted, the rest is kept.
    assert "upstream agent failed for key ***" in message


def test_a_5xx_is_not_retried_beyond_max_attempts(fake: srv.FakeResponses) -> None:
    fake.script = [srv.server_error(), grounded_answer()]
    error = fail(fake, True, max_attempts=1)
    assert len(fake.requests) == 1 and "XAI_MAX_ATTEMPTS is 1" in str(error)


def test_slower_than_the_timeout_fails_after_one_retry(
    fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [srv.Hang()]
    started = time.monotonic()
    error = fail(fake, stream, timeout_s=0.5)
    assert time.monotonic() - started < 4.0
    assert len(fake.requests) == 2 and error.kind == "timeout" and error.attempts == 2
    message = str(error)
    assert "timed out" in message and f"model {srv.MODEL}" in message
    assert "no HTTP status" in message and "request id unknown" in message


def test_a_stream_stalling_mid_way_times_out_with_its_request_id(
    fake: srv.FakeResponses,
) -> None:
    fake.script = [srv.Hang(after_created=True)]
    error = fail(fake, True, timeout_s=0.5)
    assert len(fake.requests) == 2 and error.kind == "timeout"
    # Headers had arrived, so unlike a hang before the response the request id is known.
    assert error.request_id == "req-2" and "request id req-2" in str(error)


def test_schema_rejection_names_the_model(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.schema_rejected()]
    error = fail(fake, stream)
    assert error.kind == "schema_rejected" and len(fake.requests) == 1
    assert "structured-output schema was rejected" in said(error, "HTTP 400", "req-1")


def test_unknown_model_names_grok_model(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [grounded_answer()]
    error = fail(fake, stream, model="grok-nope")
    assert error.kind == "unknown_model" and len(fake.requests) == 1
    message = str(error)
    assert "model grok-nope" in message and "check GROK_MODEL" in message
    assert "HTTP 404" in message and "request id req-1" in message


def test_wrong_key_is_refused_not_retried_nor_leaked(fake: srv.FakeResponses, stream: bool) -> None:
    wrong = "xai-WRONG-0123456789abcdef"
    fake.script = [grounded_answer()]
    with pytest.raises(XaiSelectionError) as info:
        ask(fake, stream, api_key=wrong)
    assert_no_key(info.value, wrong)
    assert info.value.kind == "auth" and len(fake.requests) == 1
    assert "XAI_API_KEY" in str(info.value) and "HTTP 400" in str(info.value)


def test_incomplete_response_is_an_error(fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [dataclasses.replace(grounded_answer(), status="incomplete")]
    error = fail(fake, stream)
    assert error.kind == "incomplete" and "max_output_tokens" in str(error)
    assert len(fake.requests) == 1


# -- the request's parts -------------------------------------------------------------------


def test_settings_repr_hides_the_key() -> None:
    shown = repr(XaiClientSettings(api_key=srv.KEY, model=srv.MODEL))
    assert srv.KEY not in shown and srv.MODEL in shown


def test_tools_are_checked() -> None:
    with pytest.raises(ValueError, match="after to_date"):
        build_tools(search_request(from_date=TO, to_date=FROM))
    with pytest.raises(SettingsError, match="at most 10"):
        build_tools(search_request(handles=tuple(f"h{n}" for n in range(11))))
    with pytest.raises(SettingsError, match="not an X handle"):
        build_tools(search_request(handles=("not a handle",)))
    assert build_tools(search_request(handles=()))[0] == {
        "type": "x_search",
        "from_date": "2026-11-20",
        "to_date": "2026-11-22",
    }


def test_an_unconfigured_selector_takes_the_settings(fake: srv.FakeResponses) -> None:
    # The variables an operator sets; a run's resource fields win over them.
    settings = Settings(
        {
            "GROK_MODEL": srv.MODEL,
            "XAI_BASE_URL": fake.base_url,
            "XAI_TIMEOUT_S": "30",
            "XAI_MAX_ATTEMPTS": "2",
            "GROK_X_HANDLES": "@nikkei,kabutan_jp",
        }
    )
    config = SelectorResource(kind="xai").config(settings)
    assert (config.model, config.base_url) == (srv.MODEL, fake.base_url)
    assert (config.timeout_s, config.max_attempts) == (30.0, 2)
    assert config.x_handles == ("nikkei", "kabutan_jp") and config.stream is True
    configured = SelectorResource(kind="xai", x_handles=[], stream=False).config(settings)
    assert configured.x_handles == () and configured.stream is False
    with pytest.raises(SettingsError, match=r"SelectorResource\.x_handles"):
        SelectorResource(kind="xai", x_handles=["no such handle"]).config(settings)


def test_defaults_are_the_current_model_and_a_long_timeout() -> None:
    config = SelectorResource(kind="xai").config(Settings({}))
    assert config.model == "grok-4.3" and config.timeout_s == 1200.0
    assert config.base_url == "https://api.x.ai/v1"
