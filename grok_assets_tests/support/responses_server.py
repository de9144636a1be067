"""A loopback HTTP server speaking xAI's Responses API, with scripted replies.

It answers `POST /v1/responses` the way the openai SDK expects: a JSON Response object,
or with `"stream": true` a server-sent-event stream (`response.created`, ...,
`response.completed` carrying the full response). Error bodies follow the shape xAI
really sends, `{"code": "...", "error": "<message string>"}` (not OpenAI's nested
`{"error": {"message": ...}}`), so the client is tested against what the SDK makes of it.

What the server enforces on its own, whatever the script says, because the real API does
too and a client must not be able to pass by accident: the Bearer key, the path (chat
completions and `search_parameters` get xAI's 410 "Live search is deprecated"), the
model name (404) and at most 10 allowed X handles (400).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal

# A canary: if it shows up in any error text, the key leaked.
KEY: Final = "xai-CANARY-7f3a9c1e5b2d4f6a8c0e"
# Not the default model, so a test proves that the configured one is what is sent.
MODEL: Final = "grok-test-model"
# xAI may answer with a more specific model name than the one requested.
SERVED_MODEL: Final = "grok-test-model-0412"
RESPONSES_PATH: Final = "/v1/responses"
MAX_HANDLES: Final = 10
LIVE_SEARCH_GONE: Final = (
    "Live search is deprecated. Please switch to the Agent Tools API: "
    "https://docs.x.ai/docs/guides/tools/overview"
)
CREDITS_MESSAGE: Final = (
    "Your team 0b5c3a52-0000-4000-8000-000000000000 has either used all available credits "
    "or reached its monthly spending limit. To continue making API requests, please "
    "purchase more credits or raise your spending limit."
)

XSearchAs = Literal["x_search_call", "custom_tool_call"]


@dataclasses.dataclass(frozen=True)
class Answer:
    """A 200 answer: optional search calls, then one message with citations."""

    text: str
    citations: tuple[str, ...] = ()
    x_search_as: XSearchAs | None = "x_search_call"
    x_calls: int = 2
    web_calls: int = 1
    # False leaves usage without the xAI search counters, as a body from an older or
    # partial API version might.
    usage_details: bool = True
    status: Literal["completed", "incomplete"] = "completed"
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def searched(self) -> bool:
        return bool(self.x_search_as and self.x_calls) or self.web_calls > 0


@dataclasses.dataclass(frozen=True)
class Failure:
    """An HTTP error before any stream starts, with an xAI-shaped body."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Hang:
    """Send nothing (or, with `after_created`, stall after the first stream event) for
    longer than any client timeout in the tests."""

    after_created: bool = False


Reply = Answer | Failure | Hang


def picks_text(picks: Sequence[Mapping[str, Any]]) -> str:
    """The structured answer's output_text."""
    return json.dumps({"picks": list(picks)}, ensure_ascii=False)


# Written out here rather than taken from the code under test, so that the server
# cites posts the way xAI does whatever the client's normalisation does.
_X_POST = re.compile(r"https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/\w+/status/(\d+)")


def as_cited(url: str) -> str:
    """A URL as xAI lists it in a url_citation: X posts as https://x.com/i/status/ID."""
    match = _X_POST.match(url)
    return f"https://x.com/i/status/{match.group(1)}" if match else url


def citations_of(picks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every evidence URL of ``picks``, as the search would have cited it."""
    urls = [as_cited(url) for pick in picks for url in pick.get("evidence_urls", ())]
    return list(dict.fromkeys(urls))


def grounded(
    picks: Sequence[Mapping[str, Any]],
    citations: Sequence[str] | None = None,
    **overrides: Any,
) -> Answer:
    """An answer that searched and cites ``citations`` (by default every evidence URL)."""
    cited = citations_of(picks) if citations is None else list(citations)
    return Answer(text=picks_text(picks), citations=tuple(cited), **overrides)


def x_search_as_custom_tool(picks: Sequence[Mapping[str, Any]]) -> Answer:
    return grounded(picks, x_search_as="custom_tool_call")


def no_search(picks: Sequence[Mapping[str, Any]]) -> Answer:
    return Answer(text=picks_text(picks), citations=(), x_search_as=None, x_calls=0, web_calls=0)


NOT_JSON_TEXT: Final = 'Here are my picks: {"picks": [7203, 6758'


def not_json(citations: Sequence[str] = ("https://x.com/i/status/1",)) -> Answer:
    # Searched and cited, so only the text is wrong.
    return Answer(text=NOT_JSON_TEXT, citations=tuple(citations))


def gone_410() -> Failure:
    return Failure(410, "Gone", LIVE_SEARCH_GONE)


def rate_limited(retry_after: str | None = "1") -> Failure:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Failure(429, "Too many requests", "You are sending requests too frequently", headers)


def credits_403() -> Failure:
    return Failure(
        403,
        "The caller does not have permission to execute the specified operation",
        CREDITS_MESSAGE,
    )


def credits_429() -> Failure:
    return Failure(429, "Some resource has been exhausted", CREDITS_MESSAGE)


def server_error(headers: Mapping[str, str] | None = None) -> Failure:
    # The key in the message stands for a server echoing request data back.
    return Failure(500, "Internal error", f"upstream agent failed for key {KEY}", headers or {})


def schema_rejected() -> Failure:
    return Failure(
        400,
        "Client specified an invalid argument",
        "Invalid request content: text.format.schema is not a supported JSON schema for "
        "structured outputs with this model.",
    )


def unknown_model(model: str) -> Failure:
    return Failure(
        404,
        "not-found",
        f"The model {model} does not exist or your team 0b5c3a52 does not have access to it.",
    )


@dataclasses.dataclass
class FakeResponses:
    base_url: str
    script: list[Reply] = dataclasses.field(default_factory=list)
    requests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def record(self, entry: dict[str, Any]) -> int:
        with self.lock:
            self.requests.append(entry)
            return len(self.requests)

    def reply_for(self, number: int) -> Reply:
        # The last entry repeats, so "500 forever" is a one-element script.
        return self.script[min(number - 1, len(self.script) - 1)]


def _sse(event: Mapping[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


class _Builder:
    """Builds one response body and its event stream from an `Answer`."""

    def __init__(self, answer: Answer, request: Mapping[str, Any], number: int) -> None:
        self.answer = answer
        self.request = request
        self.number = number
        self.response_id = str(uuid.UUID(int=number))
        self.created_at = int(time.time())

    def _tool_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for n in range(self.answer.web_calls):
            items.append(
                {
                    "type": "web_search_call",
                    "id": f"ws_{self.number}_{n}",
                    "status": "completed",
                    "action": {"type": "search", "query": f"東証 材料 {n}"},
                }
            )
        for n in range(self.answer.x_calls if self.answer.x_search_as else 0):
            if self.answer.x_search_as == "x_search_call":
                items.append(
                    {"type": "x_search_call", "id": f"xs_{self.number}_{n}", "status": "completed"}
                )
            else:
                items.append(
                    {
                        "type": "custom_tool_call",
                        "id": f"ctc_{self.number}_{n}",
                        "call_id": f"call_{self.number}_{n}",
                        "name": "x_keyword_search" if n % 2 == 0 else "x_semantic_search",
                        "input": json.dumps({"query": "日本株 決算", "limit": "10"}),
                        "status": "completed",
                    }
                )
        return items

    def _annotations(self) -> list[dict[str, Any]]:
        # With include=["no_inline_citations"] xAI still lists the sources as annotations,
        # but without positions in the text: start_index = end_index = 0 and title = url.
        return [
            {"type": "url_citation", "url": url, "title": url, "start_index": 0, "end_index": 0}
            for url in self.answer.citations
        ]

    def message(self) -> dict[str, Any]:
        return {
            "type": "message",
            "id": f"msg_{self.number}",
            "role": "assistant",
            "status": "completed",
            "content": [
                {
                    "type": "output_text",
                    "text": self.answer.text,
                    "annotations": self._annotations(),
                    "logprobs": [],
                }
            ],
        }

    def usage(self) -> dict[str, Any]:
        x_calls = self.answer.x_calls if self.answer.x_search_as else 0
        web_calls = self.answer.web_calls
        usage: dict[str, Any] = {
            "input_tokens": 7583,
            "input_tokens_details": {"cached_tokens": 3072},
            "output_tokens": 3192,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 10775,
        }
        if self.answer.usage_details:
            usage |= {
                "num_sources_used": 0,
                "num_server_side_tools_used": x_calls + web_calls,
                "cost_in_usd_ticks": 292_331_500 + 50_000_000 * (x_calls + web_calls),
                "server_side_tool_usage_details": {
                    "web_search_calls": web_calls,
                    "x_search_calls": x_calls,
                    "code_interpreter_calls": 0,
                    "file_search_calls": 0,
                    "mcp_calls": 0,
                    "document_search_calls": 0,
                    "image_generation_calls": 0,
                },
            }
        return usage

    def body(self, *, final: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "model": SERVED_MODEL,
            "status": self.answer.status if final else "in_progress",
            "output": [*self._tool_items(), self.message()] if final else [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": self.request.get("tools", []),
            "text": self.request.get("text", {"format": {"type": "text"}}),
            "store": bool(self.request.get("store", True)),
            "usage": self.usage() if final else None,
            "error": None,
            "incomplete_details": (
                {"reason": "max_output_tokens"}
                if final and self.answer.status == "incomplete"
                else None
            ),
        }
        if final:
            body["completed_at"] = self.created_at + 1
        return body

    def events(self) -> Iterator[dict[str, Any]]:
        """The event stream; sequence_number counts up from 0 as the SDK expects."""
        sequence = iter(range(10**6))

        def event(kind: str, **fields: Any) -> dict[str, Any]:
            return {"type": kind, "sequence_number": next(sequence), **fields}

        yield event("response.created", response=self.body(final=False))
        yield event("response.in_progress", response=self.body(final=False))
        index = 0
        for item in self._tool_items():
            pending = {**item, "status": "in_progress"}
            if item["type"] == "custom_tool_call":
                pending["input"] = ""
            yield event("response.output_item.added", output_index=index, item=pending)
            if item["type"] == "web_search_call":
                for phase in ("in_progress", "searching", "completed"):
                    yield event(
                        f"response.web_search_call.{phase}",
                        output_index=index,
                        item_id=item["id"],
                    )
            elif item["type"] == "x_search_call":
                # Unverified xAI-specific progress events: present to prove that the
                # client ignores event types it does not know.
                for phase in ("in_progress", "completed"):
                    yield event(
                        f"response.x_search_call.{phase}", output_index=index, item_id=item["id"]
                    )
            else:
                yield event(
                    "response.custom_tool_call_input.delta",
                    output_index=index,
                    item_id=item["id"],
                    delta=item["input"],
                )
                yield event(
                    "response.custom_tool_call_input.done",
                    output_index=index,
                    item_id=item["id"],
                    input=item["input"],
                )
            yield event("response.output_item.done", output_index=index, item=item)
            index += 1

        message = self.message()
        part = message["content"][0]
        yield event(
            "response.output_item.added",
            output_index=index,
            item={**message, "status": "in_progress", "content": []},
        )
        yield event(
            "response.content_part.added",
            output_index=index,
            item_id=message["id"],
            content_index=0,
            part={**part, "text": "", "annotations": []},
        )
        text = self.answer.text
        for start in range(0, len(text), 40):
            yield event(
                "response.output_text.delta",
                output_index=index,
                item_id=message["id"],
                content_index=0,
                delta=text[start : start + 40],
                logprobs=[],
            )
        for number, annotation in enumerate(part["annotations"]):
            yield event(
                "response.output_text.annotation.added",
                output_index=index,
                item_id=message["id"],
                content_index=0,
                annotation_index=number,
                annotation=annotation,
            )
        yield event(
            "response.output_text.done",
            output_index=index,
            item_id=message["id"],
            content_index=0,
            text=text,
            logprobs=[],
        )
        yield event(
            "response.content_part.done",
            output_index=index,
            item_id=message["id"],
            content_index=0,
            part=part,
        )
        yield event("response.output_item.done", output_index=index, item=message)
        final = "response.completed" if self.answer.status == "completed" else "response.incomplete"
        yield event(final, response=self.body())


def response_body(
    answer: Answer, request: Mapping[str, Any] | None = None, number: int = 1
) -> dict[str, Any]:
    """The JSON body the server sends for ``answer``: a recorded response, offline."""
    return _Builder(answer, request or {}, number).body()


def make_handler(fake: FakeResponses) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _head(
            self, status: int, content_type: str, number: int, extra: Mapping[str, str]
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("x-request-id", f"req-{number}")
            for name, value in extra.items():
                self.send_header(name, value)

        def _json(self, status: int, body: object, number: int, extra: Mapping[str, str]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self._head(status, "application/json", number, extra)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _fail(self, failure: Failure, number: int) -> None:
            body = {"code": failure.code, "error": failure.message}
            self._json(failure.status, body, number, failure.headers)

        def _refusal(self, body: Mapping[str, Any]) -> Failure | None:
            auth = self.headers.get("Authorization")
            if not auth:
                return Failure(
                    401,
                    "The request does not have valid authentication credentials",
                    "No credentials presented.",
                )
            if auth != f"Bearer {KEY}":
                # xAI answers a wrong key with 400, echoing a masked prefix of it.
                return Failure(
                    400,
                    "Client specified an invalid argument",
                    "Incorrect API key provided: xa***en. You can obtain an API key "
                    "from https://console.x.ai.",
                )
            if "search_parameters" in body:
                return gone_410()
            if self.path != RESPONSES_PATH:
                return Failure(404, "not-found", f"No route for {self.path}")
            if body.get("model") != MODEL:
                return unknown_model(str(body.get("model")))
            for tool in body.get("tools") or ():
                handles = tool.get("allowed_x_handles") if isinstance(tool, dict) else None
                if isinstance(handles, list) and len(handles) > MAX_HANDLES:
                    return Failure(
                        400,
                        "Client specified an invalid argument",
                        f"A maximum of {MAX_HANDLES} handles can be allowed",
                    )
            return None

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            number = fake.record({"path": self.path, "headers": headers, "body": body})
            refusal = self._refusal(body)
            if refusal is not None:
                self._fail(refusal, number)
                return
            reply = fake.reply_for(number)
            streaming = body.get("stream") is True
            if isinstance(reply, Hang) and not (reply.after_created and streaming):
                fake.release.wait(10)
                return
            if isinstance(reply, Failure):
                self._fail(reply, number)
                return
            if isinstance(reply, Hang):
                self._stream(_Builder(Answer(text="{}"), body, number), number, {}, stall=True)
                return
            builder = _Builder(reply, body, number)
            if streaming:
                self._stream(builder, number, reply.headers, stall=False)
            else:
                self._json(200, builder.body(), number, reply.headers)

        def _stream(
            self, builder: _Builder, number: int, extra: Mapping[str, str], *, stall: bool
        ) -> None:
            # HTTP/1.0 without Content-Length: the body ends when the connection closes,
            # which is how an SSE stream ends here.
            self._head(200, "text/event-stream; charset=utf-8", number, extra)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for event in builder.events():
                self.wfile.write(_sse(event))
                self.wfile.flush()
                if stall:
                    fake.release.wait(10)
                    return

    return Handler


@contextlib.contextmanager
def responses_server(script: Sequence[Reply] = ()) -> Iterator[FakeResponses]:
    """A server on a free loopback port for the life of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    fake = FakeResponses(
        base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", script=list(script)
    )
    server.RequestHandlerClass = make_handler(fake)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        # Hung replies wait on this; released, their threads end with the server.
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
