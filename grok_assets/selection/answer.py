"""Parse and validate a model's selection answer into a CANDIDATE_SCHEMA table.

Live answers and recorded replay answers go through the same function, so a replay
can never be accepted where a live answer would have been rejected.

selection_score = 0.6 * sentiment_score
                + {"High": 0.3, "Med": 0.15, "Low": 0.0}[policy_link]
                + 0.1 * has_mention
It lies in [0, 1]; grok_rank 1 is the highest score, ties keep the model's order.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pyarrow as pa

from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.trading_calendar import ISO_DATE

MIN_ITEMS = 10
MAX_ITEMS = 15
SELECTED_TIME = "23:00"
SENTIMENT_WEIGHT = 0.6
POLICY_WEIGHTS = {"High": 0.3, "Med": 0.15, "Low": 0.0}
MENTION_WEIGHT = 0.1

# JPX has issued codes with letters (e.g. "130A") since 2024 alongside the classic
# four digits; the 1st and 3rd characters are always digits.
_CODE = re.compile(r"^(\d[0-9A-Z]\d[0-9A-Z])(?:\.T)?$")
_TEXT_FIELDS = ("stock_name", "reason", "category")
_EXCERPT = 300


class ModelAnswerError(ValueError):
    """The model's answer is not a valid selection; the message says where and why."""


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _show(item: object) -> str:
    return _excerpt(json.dumps(item, ensure_ascii=False, default=str))


def extract_json_array(text: str, *, source: str) -> list[Any]:
    """Return the first top-level JSON array in ``text``.

    Scanning with raw_decode covers bare arrays, ```json fences and prose alike.
    Objects are decoded and skipped whole so that an array nested inside an object is
    never mistaken for the answer. Arrays of objects win over other arrays because
    prose such as "see [1]" is valid JSON too.
    """
    decoder = json.JSONDecoder()
    first_list: list[Any] | None = None
    first_error: str | None = None
    saw_object = False
    pos = 0
    while True:
        starts = [i for i in (text.find("[", pos), text.find("{", pos)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            if text[start] == "[" and first_error is None:
                first_error = f"malformed JSON array at char {start}: {exc.msg} at char {exc.pos}"
            pos = start + 1
            continue
        if isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                return value
            if first_list is None:
                first_list = value
        else:
            saw_object = True
        pos = end
    if first_list is not None:
        return first_list
    if first_error is not None:
        what = f"no well-formed JSON array ({first_error})"
    elif saw_object:
        what = "a JSON object but no top-level JSON array"
    else:
        what = "no JSON array"
    raise ModelAnswerError(f"{source}: answer contains {what}: {_excerpt(text) or '<empty>'!r}")


def _normalise_code(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    match = _CODE.match(value.strip().upper())
    return match.group(1) if match else None


def _mentioned_by(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(v.strip() for v in value if v.strip())
    return None


def _validate_item(item: object, index: int, source: str) -> dict[str, Any]:
    def fail(problem: str) -> ModelAnswerError:
        return ModelAnswerError(f"{source}: item {index + 1} {problem}: {_show(item)}")

    if not isinstance(item, dict):
        raise fail("is not an object")
    required = ("code", *_TEXT_FIELDS, "sentiment_score", "policy_link", "has_mention")
    missing = [key for key in (*required, "mentioned_by") if key not in item]
    if missing:
        raise fail(f"lacks {', '.join(missing)}")

    code = _normalise_code(item["code"])
    if code is None:
        raise fail(f"has code {item['code']!r}, expected a TSE code like '7203' or '7203.T'")
    row: dict[str, Any] = {"code": code}
    for key in _TEXT_FIELDS:
        value = item[key]
        if not isinstance(value, str) or not value.strip():
            raise fail(f"has {key} {value!r}, expected a non-empty string")
        row[key] = value.strip()

    sentiment = item["sentiment_score"]
    if isinstance(sentiment, bool) or not isinstance(sentiment, int | float):
        raise fail(f"has sentiment_score {sentiment!r}, expected a number")
    if not (math.isfinite(sentiment) and 0.0 <= sentiment <= 1.0):
        raise fail(f"has sentiment_score {sentiment!r} outside [0, 1]")
    row["sentiment_score"] = float(sentiment)

    # Case is forgiven because it carries no meaning; other spellings are not guessed.
    policy = item["policy_link"]
    canonical = {k.lower(): k for k in POLICY_WEIGHTS}
    if not isinstance(policy, str) or policy.strip().lower() not in canonical:
        raise fail(f"has policy_link {policy!r}, expected one of High, Med, Low")
    row["policy_link"] = canonical[policy.strip().lower()]

    if not isinstance(item["has_mention"], bool):
        raise fail(f"has has_mention {item['has_mention']!r}, expected true or false")
    row["has_mention"] = item["has_mention"]

    mentioned = _mentioned_by(item["mentioned_by"])
    if mentioned is None:
        raise fail(f"has mentioned_by {item['mentioned_by']!r}, expected a string or strings")
    row["mentioned_by"] = mentioned
    return row


def selection_score(sentiment: float, policy_link: str, has_mention: bool) -> float:
    # Rounded so that equal inputs tie exactly and stored values read cleanly.
    raw = (
        SENTIMENT_WEIGHT * sentiment
        + POLICY_WEIGHTS[policy_link]
        + (MENTION_WEIGHT if has_mention else 0.0)
    )
    return round(raw, 6)


def parse_model_answer(
    text: str, *, trading_date: str, model: str, prompt_version: str, source: str
) -> pa.Table:
    """Validate a model answer and return it as a CANDIDATE_SCHEMA table sorted by grok_rank."""
    if not ISO_DATE.match(trading_date):
        raise ValueError(f"trading_date must be YYYY-MM-DD, got {trading_date!r}")
    items = extract_json_array(text, source=source)
    if not MIN_ITEMS <= len(items) <= MAX_ITEMS:
        raise ModelAnswerError(
            f"{source}: answer has {len(items)} items, expected {MIN_ITEMS}-{MAX_ITEMS}: "
            f"{_show(items)}"
        )
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        row = _validate_item(item, index, source)
        if row["code"] in seen:
            raise ModelAnswerError(
                f"{source}: item {index + 1} repeats code {row['code']} of item "
                f"{seen[row['code']] + 1}: {_show(item)}"
            )
        seen[row["code"]] = index
        row["selection_score"] = selection_score(
            row["sentiment_score"], row["policy_link"], row["has_mention"]
        )
        rows.append(row)

    # sorted() is stable, so equal scores keep the model's own order.
    ranked = sorted(rows, key=lambda r: -r["selection_score"])
    columns: dict[str, list[Any]] = {name: [] for name in CANDIDATE_SCHEMA.names}
    for rank, row in enumerate(ranked, start=1):
        full = {
            **row,
            "date": trading_date,
            "ticker": f"{row['code']}.T",
            "grok_rank": rank,
            "selected_time": SELECTED_TIME,
            "prompt_version": prompt_version,
            "model": model,
        }
        for name in CANDIDATE_SCHEMA.names:
            columns[name].append(full[name])
    return pa.Table.from_pydict(columns, schema=CANDIDATE_SCHEMA)
