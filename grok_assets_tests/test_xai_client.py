"""The live client against a local server speaking the chat-completions protocol."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from grok_assets.selection.xai import XaiClientSettings, XaiSelectionError, request_selection

# A canary: if it shows up in any error text, the key leaked.
KEY = "xai-CANARY-7f3a9c1e5b2d4f6a8c0e"
MODEL = "grok-test-model"
ANSWER = '[{"code": "7203"}]'
HANG = "hang"


@dataclass
class Reply:
    status: int = 200
    content: str | None = ANSWER
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeXai:
    base_url: str
    script: list[Reply | str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def next_reply(self) -> Reply | str:
        # The last entry repeats, so "500 forever" is a one-element script.
        return self.script[min(len(self.requests) - 1, len(self.script) - 1)]


def _handler(fake: FakeXai) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req-{len(fake.requests)}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append({"path": self.path, "headers": headers, "body": body})
            # Checked here as well as in the tests: a wrong request gets the answer
            # the real API would give, so the client cannot succeed by accident.
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                self._send(401, {"error": {"message": "bad key", "type": "auth"}}, {})
                return
            if self.path != "/v1/chat/completions" or body.get("model") != MODEL:
                self._send(404, {"error": {"message": "no such model or path"}}, {})
                return
            reply = fake.next_reply()
            if reply == HANG:
                fake.release.wait(10)
                return
            assert isinstance(reply, Reply)
            if reply.status != 200:
                error = {"error": {"message": f"boom, key {KEY}", "type": "server_error"}}
                self._send(reply.status, error, reply.headers)
                return
            completion = {
                "id": f"cmpl-{len(fake.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
            self._send(200, completion, reply.headers)

    return Handler


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeXai]:
    # A proxy configured in the environment must not intercept loopback traffic.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake_xai = FakeXai(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    server.RequestHandlerClass = _handler(fake_xai)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake_xai
    fake_xai.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def settings(fake: FakeXai, **overrides: Any) -> XaiClientSettings:
    values: dict[str, Any] = {"api_key": KEY, "model": MODEL, "base_url": fake.base_url}
    return XaiClientSettings(**{**values, "timeout_s": 5.0, **overrides})


def assert_no_key(exc: BaseException) -> None:
    assert KEY not in str(exc)
    assert KEY not in repr(exc)
    # The SDK exception holds the request with its Authorization header.
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


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
