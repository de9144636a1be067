"""A loopback server that speaks Slack's incoming-webhook protocol.

``POST /services/<team>/<channel>/<token>`` with a JSON body: Slack answers
``200 ok`` (``text/html``), ``400 invalid_payload`` for a body that is not a JSON
object, ``400 no_text`` for one without ``text``, ``blocks`` or ``attachments``, and
for a webhook that was removed ``404 no_service``. Answers can be scripted per
request (status, body, a delay) to play Slack failing; every request is kept.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The path of a webhook this server knows; any other path is "no_service".
KNOWN_PATH_PREFIX = "/services/"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "ok"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    payload: Any
    headers: dict[str, str]
    accepted: bool = False


@dataclass
class FakeSlack:
    base_url: str
    # Answers for the next requests, in order; then 200 ok.
    script: list[Answer] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    posted: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.posted = threading.Condition(self.lock)

    def url(self, token: str = "XXXXXXXXXXXXXXXXXXXXXXXX") -> str:
        return f"{self.base_url}/services/T0GROK000/B0GROK000/{token}"

    @property
    def messages(self) -> list[str]:
        """The ``text`` of every post Slack accepted, in order."""
        with self.lock:
            return [str(r.payload.get("text", "")) for r in self.received if r.accepted]

    def wait_for_messages(self, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        with self.posted:
            while sum(r.accepted for r in self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.posted.wait(left)
        return self.messages


def _handler(slack: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:  # quiet
            pass

        def _answer(self, answer: Answer) -> None:
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload: Any = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            received = Received(self.path, payload, dict(self.headers.items()))
            with slack.lock:
                scripted = slack.script.pop(0) if slack.script else None
                slack.received.append(received)
            if scripted is not None:
                time.sleep(scripted.delay_s)
                if scripted.status != 200:
                    return self._answer(scripted)
            if not self.path.startswith(KNOWN_PATH_PREFIX):
                return self._answer(Answer(404, "no_service"))
            if not isinstance(payload, dict):
                return self._answer(Answer(400, "invalid_payload"))
            if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
                return self._answer(Answer(400, "no_text"))
            # Recorded before the answer: once the client has its 200, the post is there.
            with slack.posted:
                received.accepted = True
                slack.posted.notify_all()
            self._answer(Answer())

    return Handler


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    slack = FakeSlack(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(slack)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield slack
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
