"""Versioned selection prompt.

The template lives in ``prompts/<version>.txt`` so that a change of wording is a new
file and a new PROMPT_VERSION, and every stored candidate row records which wording
produced it.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from string import Template

from grok_assets.selection.window import selection_evening
from grok_assets.trading_calendar import parse_date

# v2: the feedback section carries backtest figures from the archive (feedback.py).
# v3: tonight's X posts and news through the search tools, the 23:00 cut-off, a
#     structured answer {"picks": [...]} whose picks cite their evidence_urls.
PROMPT_VERSION = "v3"
NO_HISTORY = (
    "No backtest history yet: the archive holds no results of earlier selections "
    "for the recent trading days."
)
_UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class PromptContext:
    """What the prompt knows besides the target date; all dates are YYYY-MM-DD.

    ``feedback`` is rendered text (``feedback.render_feedback``); None or blank means
    no history, which the prompt states plainly rather than leaving the model guessing.
    """

    execution_date: str
    latest_trading_day: str
    next_trading_day: str
    feedback: str | None = None


def load_template(version: str = PROMPT_VERSION) -> Template:
    text = (
        importlib.resources.files("grok_assets.selection")
        .joinpath("prompts", f"{version}.txt")
        .read_text(encoding="utf-8")
    )
    return Template(text)


def build_prompt(trading_date: str, context: PromptContext | None = None) -> str:
    """Render the current prompt version for ``trading_date``."""
    feedback = context.feedback.strip() if context and context.feedback else ""
    # substitute (not safe_substitute) so a placeholder added to the template without
    # a value here fails loudly instead of reaching the model as "$name".
    return load_template().substitute(
        trading_date=trading_date,
        execution_date=context.execution_date if context else _UNKNOWN,
        latest_trading_day=context.latest_trading_day if context else _UNKNOWN,
        next_trading_day=context.next_trading_day if context else _UNKNOWN,
        feedback=feedback or NO_HISTORY,
        # The evening before N, from N itself: a backfill states the same cut-off.
        selection_evening=selection_evening(parse_date(trading_date)).isoformat(),
    )
