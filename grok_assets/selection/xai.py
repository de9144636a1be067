"""The live selection request: xAI's Responses API with server-side X and web search.

Live Search (``search_parameters`` on chat completions) answers HTTP 410 since January
2026; server-side search exists only as tools on ``POST {XAI_BASE_URL}/responses``.
This module sends one such request through the ``openai`` SDK and returns the whole
response body as the API sent it; what the answer says is judged elsewhere
(``answer.py``, ``grounding.py``).

Retries are ours, not the SDK's (``max_retries=0``): every attempt runs, and bills, a
new agentic search, so the policy is narrow, all within ``max_attempts``:
- 429 rate limit: retried after its Retry-After, unless it asks for more than
  MAX_RETRY_AFTER_S;
- 5xx, a timeout, a dropped connection or a stream failing mid-way: one more attempt;
- 403/429 about credits or the spending limit, and every other 4xx: never retried.
Every error names the model, the HTTP status and the request id, never the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, cast

import openai

from grok_assets.selection.picks import text_format
from grok_assets.settings import (
    DEFAULT_XAI_BASE_URL,
    DEFAULT_XAI_MAX_ATTEMPTS,
    DEFAULT_XAI_TIMEOUT_S,
    normalize_x_handles,
)

# Keeps the url_citation links out of output_text, which must stay pure JSON; the
# annotations still list the sources (docs.x.ai, Tools > Citations).
INCLUDE: Final = ("no_inline_citations",)
# The longest Retry-After a 429 is waited for; a longer one fails the run, saying so.
MAX_RETRY_AFTER_S: Final = 300.0
# Used when a 429 carries no Retry-After.
DEFAULT_RETRY_AFTER_S: Final = 5.0
# Before the one repeat of a request that failed with a 5xx or a timeout, unless the
# server said how long to wait.
TRANSIENT_RETRY_DELAY_S: Final = 2.0
_MESSAGE_LIMIT: Final = 400
# xAI keys look like "xai-..."; redacted from server text in case one is echoed.
_KEY_LIKE: Final = re.compile(r"xai-[A-Za-z0-9_-]{8,}")
# xAI's out-of-money text: "Your team ... has either used all available credits or
# reached its monthly spending limit." Seen with both 403 and 429.
_CREDITS: Final = re.compile(
    r"credits?\b|spending limit|spend limit|billing|insufficient (?:balance|funds|quota)",
    re.IGNORECASE,
)
_SCHEMA_WORDS: Final = re.compile(r"schema|json_schema|response_format|text\.format|structured")
_API_KEY_WORDS: Final = re.compile(r"api key|credentials", re.IGNORECASE)

ErrorKind = Literal[
    "gone",
    "credits",
    "rate_limited",
    "auth",
    "unknown_model",
    "schema_rejected",
    "bad_request",
    "server_error",
    "timeout",
    "connection",
    "stream",
    "incomplete",
]
_TRANSIENT: Final[frozenset[ErrorKind]] = frozenset(
    {"server_error", "timeout", "connection", "stream"}
)


class XaiSelectionError(RuntimeError):
    """The selection request failed. The message names the model, the HTTP status and
    the request id, and never contains the API key."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        model: str,
        attempts: int,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.model = model
        self.attempts = attempts
        self.status_code = status_code
        self.request_id = request_id


@dataclasses.dataclass(frozen=True)
class XaiClientSettings:
    api_key: str = dataclasses.field(repr=False)
    model: str
    base_url: str = DEFAULT_XAI_BASE_URL
    # A stream: the longest silence between two events, not the whole answer, which
    # may take minutes of searching. A JSON answer: the wait for it.
    timeout_s: float = DEFAULT_XAI_TIMEOUT_S
    max_attempts: int = DEFAULT_XAI_MAX_ATTEMPTS
    stream: bool = True


@dataclasses.dataclass(frozen=True)
class SearchRequest:
    """What is asked: the prompt, the x_search window and its optional handle filter."""

    prompt: str
    from_date: dt.date
    to_date: dt.date
    handles: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class XaiResponse:
    body: dict[str, Any]
    """The response as the API sent it, JSON-able: the input of grounding's checks."""
    request_id: str | None
    attempts: int

    @property
    def response_id(self) -> str | None:
        value = self.body.get("id")
        return str(value) if value else None

    def model(self, requested: str) -> str:
        """The model as the API returned it (it may be more specific than requested)."""
        value = self.body.get("model")
        return str(value) if value else requested


def build_tools(request: SearchRequest) -> list[dict[str, Any]]:
    """x_search over the window (and its handles), and web_search."""
    if request.from_date > request.to_date:
        raise ValueError(f"from_date {request.from_date} is after to_date {request.to_date}")
    handles = normalize_x_handles(request.handles, "allowed_x_handles")
    x_search: dict[str, Any] = {
        "type": "x_search",
        "from_date": request.from_date.isoformat(),
        "to_date": request.to_date.isoformat(),
    }
    if handles:
        x_search["allowed_x_handles"] = list(handles)
    return [x_search, {"type": "web_search"}]


def build_create_kwargs(model: str, request: SearchRequest) -> dict[str, Any]:
    """The keyword arguments of ``client.responses.create``, without ``stream``."""
    return {
        "model": model,
        "input": [{"role": "user", "content": request.prompt}],
        "tools": build_tools(request),
        "include": list(INCLUDE),
        "store": False,
        "text": {"format": text_format()},
    }


def _redact(text: str, api_key: str, limit: int = _MESSAGE_LIMIT) -> str:
    if api_key:
        text = text.replace(api_key, "***")
    text = " ".join(_KEY_LIKE.sub("xai-***", text).split())
    return text if len(text) <= limit else text[:limit] + "..."


@dataclasses.dataclass(frozen=True)
class _Failure:
    kind: ErrorKind
    detail: str
    status_code: int | None = None
    request_id: str | None = None
    retry_after_s: float | None = None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own words. xAI sends ``{"code": ..., "error": "<text>"}``, which the
    SDK reduces to ``body = "<text>"`` and ``message = "Error code: N"``, so the raw
    body is read."""
    try:
        text = exc.response.text
    except Exception:  # the body could not be read; fall back to what the SDK kept
        text = ""
    try:
        data = json.loads(text) if text else exc.body
    except ValueError:
        return text or str(exc.body or "")
    if isinstance(data, dict):
        error = data.get("error")
        code = data.get("code")
        if isinstance(error, dict):
            code = error.get("code", code)
            error = error.get("message")
        words = str(error) if error else json.dumps(data, ensure_ascii=False)
        return f"{code}: {words}" if isinstance(code, str) and code else words
    return str(data)


def _status_failure(exc: openai.APIStatusError) -> _Failure:
    status = exc.status_code
    message = _server_message(exc)
    kind: ErrorKind
    if status in (402, 403, 429) and _CREDITS.search(message):
        kind = "credits"
    elif status == 410:
        kind = "gone"
    elif status == 429:
        kind = "rate_limited"
    elif status == 401 or (status in (400, 403) and _API_KEY_WORDS.search(message)):
        kind = "auth"
    elif status == 404:
        kind = "unknown_model"
    elif status in (400, 422) and _SCHEMA_WORDS.search(message):
        kind = "schema_rejected"
    elif status in (408, 409) or status >= 500:
        kind = "server_error"
    else:
        kind = "bad_request"
    return _Failure(
        kind,
        message,
        status_code=status,
        request_id=exc.request_id,
        retry_after_s=_retry_after(exc.response.headers),
    )


def _consume(stream: openai.Stream[Any], request_id: str | None) -> dict[str, Any] | _Failure:
    """Read a Responses event stream to its end and return the final response body."""
    done_items: dict[int, dict[str, Any]] = {}
    final: dict[str, Any] | None = None
    with stream:
        for event in stream:
            kind = getattr(event, "type", None)
            if kind == "response.output_item.done":
                done_items[event.output_index] = event.item.to_dict(mode="json", warnings=False)
            elif kind in ("response.completed", "response.incomplete"):
                # to_dict(warnings=False) gives back the wire body: the SDK coerces xAI's
                # own item types (x_search_call) into its unions and would warn.
                final = event.response.to_dict(mode="json", warnings=False)
            elif kind == "response.failed":
                error = getattr(event.response, "error", None)
                detail = getattr(error, "message", None) or "the response failed"
                return _Failure("stream", f"response.failed: {detail}", request_id=request_id)
            elif kind == "error":
                code = getattr(event, "code", None) or "error"
                detail = f"{code}: {getattr(event, 'message', '')}"
                return _Failure("stream", f"error event: {detail}", request_id=request_id)
            # Every other event (deltas, search progress, types this SDK does not know)
            # only builds up what response.completed repeats in full.
    if final is None:
        return _Failure(
            "stream", "the stream ended before response.completed", request_id=request_id
        )
    if not isinstance(final.get("output"), list):
        # A final event may come without output; the items came one by one.
        final["output"] = [done_items[index] for index in sorted(done_items)]
    return final


def _attempt(
    settings: XaiClientSettings, kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], str | None] | _Failure:
    request_id: str | None = None
    try:
        with openai.OpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout_s,
            max_retries=0,
        ) as client:
            # Our tool and include values are xAI's, not in the SDK's OpenAI literals.
            create = cast(Callable[..., Any], client.responses.create)
            if settings.stream:
                stream = create(stream=True, **kwargs)
                # The headers are there before the first event.
                request_id = stream.response.headers.get("x-request-id")
                body = _consume(stream, request_id)
                return body if isinstance(body, _Failure) else (body, request_id)
            response = create(**kwargs)
            request_id = response._request_id
            return response.to_dict(mode="json", warnings=False), request_id
    except openai.APIStatusError as exc:
        return _status_failure(exc)
    except openai.APITimeoutError:
        return _Failure("timeout", f"no data for {settings.timeout_s:g} s", request_id=request_id)
    except openai.APIConnectionError as exc:
        return _Failure("connection", str(exc), request_id=request_id)
    except openai.APIError as exc:
        # The SDK raises this for an in-stream payload that carries an "error" key.
        return _Failure("stream", exc.message, request_id=request_id)


_WHAT: Final[Mapping[ErrorKind, str]] = {
    "gone": (
        "the feature or endpoint is gone (Live Search was retired; server-side search "
        "exists only as Responses API tools)"
    ),
    "credits": (
        "not retried: xAI reports the team's credits are used up or its monthly spending "
        "limit is reached; buy credits or raise the limit in the xAI console"
    ),
    "rate_limited": "rate limited",
    "auth": "the API key was refused; check XAI_API_KEY",
    "unknown_model": "the model is unknown or not available to this team; check GROK_MODEL",
    "schema_rejected": (
        "the structured-output schema was rejected by this model; check that GROK_MODEL "
        "supports json_schema together with the search tools"
    ),
    "bad_request": "the request was rejected",
    "server_error": "server error",
    "timeout": "timed out",
    "connection": "connection failed",
    "stream": "the response stream failed",
    "incomplete": "the response is incomplete",
}


def _final_error(
    failure: _Failure, settings: XaiClientSettings, attempts: int, why_stop: str
) -> XaiSelectionError:
    status = f"HTTP {failure.status_code}" if failure.status_code else "no HTTP status"
    plural = "attempt" if attempts == 1 else "attempts"
    message = (
        f"xAI Responses API at {settings.base_url}, model {settings.model}: "
        f"{_WHAT[failure.kind]} ({status}, request id {failure.request_id or 'unknown'}, "
        f"{attempts} {plural}{'; ' + why_stop if why_stop else ''}): "
        f"{_redact(failure.detail, settings.api_key)}"
    )
    return XaiSelectionError(
        message,
        kind=failure.kind,
        model=settings.model,
        attempts=attempts,
        status_code=failure.status_code,
        request_id=failure.request_id,
    )


def _retry_delay(
    failure: _Failure, settings: XaiClientSettings, attempts: int, transient_retries: int
) -> tuple[float | None, str]:
    """Seconds to wait before the next attempt, or None and why there is none."""
    if failure.kind not in _TRANSIENT and failure.kind != "rate_limited":
        return None, ""
    if attempts >= settings.max_attempts:
        return None, f"XAI_MAX_ATTEMPTS is {settings.max_attempts}"
    if failure.kind == "rate_limited":
        wait = failure.retry_after_s
        wait = DEFAULT_RETRY_AFTER_S if wait is None else wait
        if wait > MAX_RETRY_AFTER_S:
            return None, (
                f"Retry-After asks for {wait:g} s, more than the {MAX_RETRY_AFTER_S:g} s "
                "this client waits"
            )
        return wait, ""
    if transient_retries >= 1:
        return None, "retried once already; each attempt repeats a paid search"
    wait = failure.retry_after_s
    return (TRANSIENT_RETRY_DELAY_S if wait is None else min(wait, MAX_RETRY_AFTER_S)), ""


def _check_complete(
    body: dict[str, Any], request_id: str | None, settings: XaiClientSettings, attempts: int
) -> XaiSelectionError | None:
    status = body.get("status")
    if status in (None, "completed"):
        return None
    details = body.get("incomplete_details") or body.get("error")
    reason = (
        (details.get("reason") or details.get("message")) if isinstance(details, dict) else None
    )
    detail = f"response {body.get('id') or 'unknown'} is {status} ({reason or 'no reason given'})"
    failure = _Failure("incomplete", detail, status_code=200, request_id=request_id)
    return _final_error(failure, settings, attempts, "")


def request_response(
    settings: XaiClientSettings,
    request: SearchRequest,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> XaiResponse:
    """Ask the model, with X search and web search, and return its whole response.

    Raises XaiSelectionError outside any ``except`` block, so neither ``__cause__`` nor
    ``__context__`` links to the SDK exception, which holds the request and its
    Authorization header.
    """
    if settings.max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {settings.max_attempts}")
    kwargs = build_create_kwargs(settings.model, request)
    attempts = transient_retries = 0
    while True:
        attempts += 1
        outcome = _attempt(settings, kwargs)
        if not isinstance(outcome, _Failure):
            break
        delay, why_stop = _retry_delay(outcome, settings, attempts, transient_retries)
        if delay is None:
            raise _final_error(outcome, settings, attempts, why_stop)
        if outcome.kind != "rate_limited":
            transient_retries += 1
        sleep(delay)
    body, request_id = outcome
    incomplete = _check_complete(body, request_id, settings, attempts)
    if incomplete is not None:
        raise incomplete
    return XaiResponse(body=body, request_id=request_id, attempts=attempts)
