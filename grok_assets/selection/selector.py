"""Where a day's candidates come from: Grok, live (``xai``), or a recorded answer in the
bucket (``replay``), and how an answer becomes candidates.

Every answer is first made an evidence document (``evidence.py``); candidates are
derived from that document alone (:func:`selection_from`), so a live answer, a recorded
Responses body and a stored evidence file pass exactly the same checks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from grok_assets import layout, trading_calendar
from grok_assets.selection import evidence
from grok_assets.selection.answer import (
    ModelAnswerError,
    candidates_table,
    decode_structured_answer,
    parse_recorded_array,
    validate_picks,
)
from grok_assets.selection.feedback import load_feedback, render_feedback
from grok_assets.selection.grounding import DroppedPick, ground, output_text, require_search
from grok_assets.selection.picks import SCHEMA_NAME
from grok_assets.selection.prompt import PROMPT_VERSION, PromptContext, build_prompt
from grok_assets.selection.window import SearchWindow, search_window
from grok_assets.settings import SELECTORS, Settings, SettingsError
from grok_assets.storage import S3Store


@dataclasses.dataclass(frozen=True)
class SelectorConfig:
    """Which selector, and for ``xai`` the model and how to reach it. The API key is
    not here: it comes from the environment only, when the call is made."""

    kind: str
    model: str
    base_url: str
    timeout_s: float
    max_attempts: int
    x_handles: tuple[str, ...] = ()
    stream: bool = True


@dataclasses.dataclass(frozen=True)
class Selection:
    """A day's validated, grounded candidates and the evidence they rest on; nothing of
    it is written yet."""

    table: pa.Table
    document: dict[str, Any]  # the evidence file's content
    dropped: tuple[DroppedPick, ...]

    @property
    def summary(self) -> evidence.EvidenceSummary:
        return evidence.summary_of(self.document)


def prompt_context(trading_day: dt.date, store: S3Store) -> PromptContext:
    """The trading context from the JPX calendar plus backtest feedback read from the
    archive in ``store`` (the source of truth, never a local copy)."""
    return PromptContext(
        execution_date=trading_calendar.today_in_tokyo().isoformat(),
        latest_trading_day=trading_calendar.previous_trading_day(trading_day).isoformat(),
        next_trading_day=trading_calendar.next_trading_day(trading_day).isoformat(),
        feedback=render_feedback(load_feedback(store, trading_day)),
    )


def _window_of(window: SearchWindow) -> dict[str, str]:
    return {
        "from_date": window.from_date.isoformat(),
        "to_date": window.to_date.isoformat(),
        "cutoff": window.cutoff.isoformat(),
    }


def describe(document: Mapping[str, Any], where: str | None = None) -> str:
    """Who answered, for messages: model, response id, HTTP status and request id."""
    response_id = document.get("response_id") or "unknown"
    if where is not None:
        return f"{where} (model {document.get('model')}, response {response_id})"
    if document.get("source") == evidence.XAI:
        asked = document.get("asked") or {}
        return (
            f"xAI model {asked.get('model')} (returned {document.get('model')}), response "
            f"{response_id} (HTTP 200, request id {document.get('request_id') or 'unknown'})"
        )
    return (
        f"recorded answer {document.get('replay_uri')} (model {document.get('model')}, "
        f"response {response_id})"
    )


def selection_from(document: Mapping[str, Any], where: str | None = None) -> Selection:
    """Validate and ground an evidence document's answer; the candidates it yields.

    Raises ModelAnswerError (GroundingError for an answer without search or with too
    few grounded picks); those are answers, not outages, and asking again repeats a
    paid search, so callers do not retry them.
    """
    source = describe(document, where)
    trading_date = str(document["trading_date"])
    prompt_version = str((document.get("asked") or {}).get("prompt_version") or PROMPT_VERSION)
    body = document.get("response")
    if isinstance(body, Mapping):
        # Search is asked about first: without it the picks mean nothing, valid or not.
        require_search(body, source=source)
        items = decode_structured_answer(output_text(body), source=source)
        picks = validate_picks(items, source=source)
        report = ground(body, picks, source=source)
        table = candidates_table(
            [g.pick for g in report.grounded],
            trading_date=trading_date,
            model=str(document.get("model") or body.get("model") or "unknown"),
            prompt_version=prompt_version,
            response_id=document.get("response_id"),
            evidence_urls={g.pick.code: g.cited_urls for g in report.grounded},
        )
        return Selection(table, evidence.with_grounding(document, report), report.dropped)
    text = document.get("answer_text")
    if not isinstance(text, str):
        raise ModelAnswerError(f"{source}: holds neither a response body nor a recorded answer")
    picks = parse_recorded_array(text, source=source)
    table = candidates_table(
        picks,
        trading_date=trading_date,
        model=evidence.REPLAY,
        prompt_version=prompt_version,
        response_id=None,
    )
    return Selection(table, evidence.with_grounding(document, None), ())


def _recorded_document(store: S3Store, trading_day: dt.date) -> dict[str, Any]:
    key = layout.replay_answer_key(trading_day)
    data, _ = store.get_bytes(key)
    text = data.decode("utf-8")
    asked = {
        "prompt_version": PROMPT_VERSION,
        "search_window": _window_of(search_window(trading_day)),
    }
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        value = None  # a fenced or prose answer: the bare-array reader finds the array
    date = trading_day.isoformat()
    if isinstance(value, dict) and isinstance(value.get("output"), list):
        return evidence.recorded_body_document(
            trading_date=date, asked=asked, replay_uri=store.uri(key), body=value
        )
    if isinstance(value, dict):
        raise ModelAnswerError(
            f"{store.uri(key)}: a JSON object that is not a Responses body (no output list); "
            "expected a recorded Responses body or a JSON array of picks"
        )
    return evidence.recorded_array_document(
        trading_date=date, asked=asked, replay_uri=store.uri(key), text=text
    )


def _live_document(
    config: SelectorConfig, trading_day: dt.date, store: S3Store, settings: Settings
) -> dict[str, Any]:
    from grok_assets.selection.xai import (
        INCLUDE,
        SearchRequest,
        XaiClientSettings,
        build_tools,
        request_response,
    )

    client_settings = XaiClientSettings(
        api_key=settings.xai_api_key,
        model=config.model,
        base_url=config.base_url,
        timeout_s=config.timeout_s,
        max_attempts=config.max_attempts,
        stream=config.stream,
    )
    window = search_window(trading_day)
    prompt = build_prompt(trading_day.isoformat(), prompt_context(trading_day, store))
    request = SearchRequest(
        prompt=prompt, from_date=window.from_date, to_date=window.to_date, handles=config.x_handles
    )
    asked = {
        "model": config.model,
        "prompt_version": PROMPT_VERSION,
        "tools": build_tools(request),
        "search_window": _window_of(window),
        "include": list(INCLUDE),
        "store": False,
        "text_format": SCHEMA_NAME,
        "stream": config.stream,
        "prompt": prompt,
    }
    response = request_response(client_settings, request)
    return evidence.live_document(
        trading_date=trading_day.isoformat(),
        asked=asked,
        body=response.body,
        model=response.model(config.model),
        request_id=response.request_id,
        attempts=response.attempts,
    )


def select_candidates(
    config: SelectorConfig, trading_day: dt.date, store: S3Store, settings: Settings
) -> Selection:
    """The day's validated candidates and their evidence, from the configured selector."""
    if config.kind == "replay":
        return selection_from(_recorded_document(store, trading_day))
    if config.kind == "xai":
        return selection_from(_live_document(config, trading_day, store, settings))
    raise SettingsError(f"selector kind {config.kind!r} is not one of {', '.join(SELECTORS)}")
