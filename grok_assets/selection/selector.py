"""Where a day's candidates come from: Grok, live (``xai``), or a recorded answer in the
bucket (``replay``). Both go through the same validation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from grok_assets import layout, trading_calendar
from grok_assets.selection.answer import candidates_table, parse_recorded_array
from grok_assets.selection.feedback import load_feedback, render_feedback
from grok_assets.selection.prompt import PROMPT_VERSION, PromptContext, build_prompt
from grok_assets.settings import SELECTORS, Settings, SettingsError
from grok_assets.storage import S3Store


@dataclass(frozen=True)
class SelectorConfig:
    """Which selector, and for ``xai`` the model and how to reach it. The API key is
    not here: it comes from the environment only, when the call is made."""

    kind: str
    model: str
    base_url: str
    timeout_s: float
    max_attempts: int


def prompt_context(trading_day: dt.date, store: S3Store) -> PromptContext:
    """The trading context from the JPX calendar plus backtest feedback read from the
    archive in ``store`` (the source of truth, never a local copy)."""
    return PromptContext(
        execution_date=trading_calendar.today_in_tokyo().isoformat(),
        latest_trading_day=trading_calendar.previous_trading_day(trading_day).isoformat(),
        next_trading_day=trading_calendar.next_trading_day(trading_day).isoformat(),
        feedback=render_feedback(load_feedback(store, trading_day)),
    )


def select_candidates(
    config: SelectorConfig, trading_day: dt.date, store: S3Store, settings: Settings
) -> pa.Table:
    """The day's validated candidates (CANDIDATE_SCHEMA), from the configured selector."""
    date = trading_day.isoformat()
    if config.kind == "replay":
        key = layout.replay_answer_key(trading_day)
        data, _ = store.get_bytes(key)
        picks = parse_recorded_array(data.decode("utf-8"), source=store.uri(key))
        return candidates_table(
            picks,
            trading_date=date,
            model="replay",
            prompt_version=PROMPT_VERSION,
            response_id=None,
        )
    if config.kind == "xai":
        from grok_assets.selection.xai import XaiClientSettings, request_selection

        client_settings = XaiClientSettings(
            api_key=settings.xai_api_key,
            model=config.model,
            base_url=config.base_url,
            timeout_s=config.timeout_s,
            max_attempts=config.max_attempts,
        )
        prompt = build_prompt(date, prompt_context(trading_day, store))
        answer = request_selection(client_settings, prompt)
        picks = parse_recorded_array(answer, source=f"xai model {config.model}")
        return candidates_table(
            picks,
            trading_date=date,
            model=config.model,
            prompt_version=PROMPT_VERSION,
            response_id=None,
        )
    raise SettingsError(f"selector kind {config.kind!r} is not one of {', '.join(SELECTORS)}")
