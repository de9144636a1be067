"""A local HTTP server speaking xAI's chat-completions protocol, with scripted replies."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

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


def make_handler(fake: FakeXai) -> type[BaseHTTPRequestHandler]:
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
