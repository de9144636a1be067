"""Validate a model's picks and turn them into a scored CANDIDATE_SCHEMA table.

Two shapes of answer come in, and both go through the same checks of every field of
:class:`~grok_assets.selection.picks.Pick`:

- a structured answer, ``{"picks": [...]}``, the ``output_text`` of a Responses call
  (live, or recorded): it must be valid JSON as it stands and every pick must carry
  1-5 ``evidence_urls``;
- a recorded bare JSON array (``grok/replay/YYYYMMDD.json``), bare, fenced or inside
  prose, with this project's keys or the previous pipeline's (``ticker_symbol``,
  ``company_name``). It makes no grounding claim, so ``evidence_urls`` may be absent,
  ``mentioned_by`` may name media rather than handles and ``category`` may be empty, as
  in what that pipeline left behind.

selection_score = sentiment_score * 100 + {High: 30, Med: 20, Low: 10}[policy_link]
                + (50 if has_mention else 0)
as the previous pipeline established it, so 10-180; grok_rank 1 is the highest score,
ties keep the model's order.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.selection.picks import (
    CODE_PATTERN,
    HANDLE_PATTERN,
    MAX_PICKS,
    MIN_PICKS,
    POLICY_LINKS,
    Pick,
    constraints,
    field_names,
)
from grok_assets.trading_calendar import ISO_DATE

SELECTED_TIME = "23:00"
SENTIMENT_POINTS = 100.0
POLICY_POINTS = {"High": 30.0, "Med": 20.0, "Low": 10.0}
MENTION_POINTS = 50.0
# The previous pipeline's names for two of the keys; recorded answers use them.
LEGACY_KEYS = {"ticker_symbol": "code", "company_name": "stock_name"}

_CODE = re.compile(rf"({CODE_PATTERN})(?:\.T)?")
_HANDLE = re.compile(HANDLE_PATTERN)
_TEXT_FIELDS = ("stock_name", "reason", "category")
_EXCERPT = 300


class ModelAnswerError(ValueError):
    """The model's answer is not a valid selection; the message says where and why and
    quotes the offending item."""


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _show(item: object) -> str:
    return excerpt(json.dumps(item, ensure_ascii=False, default=str))


def decode_structured_answer(text: str, *, source: str) -> list[Any]:
    """The ``picks`` of a structured answer. The schema was strict, so nothing is
    searched for or repaired: text that is not the JSON object asked for is refused."""
    if not text.strip():
        raise ModelAnswerError(f"{source}: output_text is empty")
    problem: str | None = None
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"is not valid JSON ({exc.msg} at char {exc.pos})"
    if problem is not None:
        # Raised outside the except block: nothing to chain, the message says it all.
        raise ModelAnswerError(
            f"{source}: output_text {problem} despite the strict schema: {excerpt(text)!r}"
        )
    if not isinstance(answer, dict) or not isinstance(answer.get("picks"), list):
        raise ModelAnswerError(
            f'{source}: output_text is not an object {{"picks": [...]}}: {_show(answer)}'
        )
    return list(answer["picks"])


def extract_json_array(text: str, *, source: str) -> list[Any]:
    """Return the first top-level JSON array in a recorded answer ``text``.

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
    # A broken array outranks a stray list of non-objects (found inside it, say).
    if first_list is not None and first_error is None:
        return first_list
    if first_error is not None:
        what = f"no well-formed JSON array ({first_error})"
    elif saw_object:
        what = "a JSON object but no top-level JSON array"
    else:
        what = "no JSON array"
    raise ModelAnswerError(f"{source}: answer contains {what}: {excerpt(text) or '<empty>'!r}")


def _normalise_code(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    match = _CODE.fullmatch(value.strip().upper())
    return match.group(1) if match else None


def _strings(value: object, *, bare: bool) -> tuple[str, ...] | None:
    """A list of strings as a tuple; a bare array may also give one string or null."""
    if bare and value is None:
        return ()
    if bare and isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(v.strip() for v in value if v.strip())


def is_absolute_url(text: str) -> bool:
    parts = urlsplit(text.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _validate_item(item: object, index: int, source: str, *, bare: bool) -> Pick:
    def fail(problem: str) -> ModelAnswerError:
        return ModelAnswerError(f"{source}: item {index + 1} {problem}: {_show(item)}")

    if not isinstance(item, dict):
        raise fail("is not an object")
    if bare:
        # A previous-pipeline key is renamed, unless this project's key is there too.
        item = {
            LEGACY_KEYS.get(key, key): value
            for key, value in item.items()
            if key not in LEGACY_KEYS or LEGACY_KEYS[key] not in item
        }
    required = [name for name in field_names() if not (bare and name == "evidence_urls")]
    missing = [key for key in required if key not in item]
    if missing:
        raise fail(f"lacks {', '.join(missing)}")

    code = _normalise_code(item["code"])
    if code is None:
        raise fail(f"has code {item['code']!r}, expected a TSE code like '7203' or '130A'")
    texts: dict[str, str] = {}
    for key in _TEXT_FIELDS:
        value = item[key]
        # The previous pipeline's categories may be "" (its archive holds such rows).
        may_be_empty = bare and key == "category"
        if not isinstance(value, str) or not (value.strip() or may_be_empty):
            raise fail(f"has {key} {value!r}, expected a non-empty string")
        texts[key] = value.strip()

    sentiment = item["sentiment_score"]
    bounds = constraints("sentiment_score")
    if isinstance(sentiment, bool) or not isinstance(sentiment, int | float):
        raise fail(f"has sentiment_score {sentiment!r}, expected a number")
    if not (math.isfinite(sentiment) and bounds["minimum"] <= sentiment <= bounds["maximum"]):
        raise fail(
            f"has sentiment_score {sentiment!r} outside [{bounds['minimum']}, {bounds['maximum']}]"
        )

    # Case is forgiven because it carries no meaning; other spellings are not guessed.
    policy = item["policy_link"]
    canonical = {name.lower(): name for name in POLICY_LINKS}
    if not isinstance(policy, str) or policy.strip().lower() not in canonical:
        raise fail(f"has policy_link {policy!r}, expected one of {', '.join(POLICY_LINKS)}")

    if not isinstance(item["has_mention"], bool):
        raise fail(f"has has_mention {item['has_mention']!r}, expected true or false")

    mentioned = _strings(item["mentioned_by"], bare=bare)
    if mentioned is None:
        raise fail(f"has mentioned_by {item['mentioned_by']!r}, expected a list of X handles")
    if not bare:
        limit = constraints("mentioned_by")["maxItems"]
        if len(mentioned) > limit:
            raise fail(f"has {len(mentioned)} mentioned_by, at most {limit} allowed")
        wrong = [name for name in mentioned if not _HANDLE.fullmatch(name)]
        if wrong:
            raise fail(f"has mentioned_by {wrong[0]!r}, which is not an X handle")

    evidence = _strings(item.get("evidence_urls", []), bare=False)
    if evidence is None:
        raise fail(f"has evidence_urls {item.get('evidence_urls')!r}, expected a list of URLs")
    bounds = constraints("evidence_urls")
    low = 0 if bare else bounds["minItems"]
    if not low <= len(evidence) <= bounds["maxItems"]:
        raise fail(f"has {len(evidence)} evidence_urls, expected {low}-{bounds['maxItems']}")
    not_urls = [url for url in evidence if not is_absolute_url(url)]
    if not_urls:
        raise fail(f"has evidence_urls {not_urls[0]!r}, expected an absolute http(s) URL")

    return Pick(
        code=code,
        stock_name=texts["stock_name"],
        reason=texts["reason"],
        category=texts["category"],
        sentiment_score=float(sentiment),
        policy_link=canonical[policy.strip().lower()],  # type: ignore[arg-type]
        has_mention=item["has_mention"],
        mentioned_by=mentioned,
        evidence_urls=evidence,
    )


def validate_picks(items: Sequence[object], *, source: str, bare: bool = False) -> list[Pick]:
    """Every item as a :class:`Pick`, in the model's order; the first problem found
    fails the whole answer, quoting the item. ``bare``: a recorded bare array."""
    if not MIN_PICKS <= len(items) <= MAX_PICKS:
        raise ModelAnswerError(
            f"{source}: answer has {len(items)} items, expected {MIN_PICKS}-{MAX_PICKS}: "
            f"{_show(list(items))}"
        )
    picks: list[Pick] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        pick = _validate_item(item, index, source, bare=bare)
        if pick.code in seen:
            raise ModelAnswerError(
                f"{source}: item {index + 1} repeats code {pick.code} of item "
                f"{seen[pick.code] + 1}: {_show(item)}"
            )
        seen[pick.code] = index
        picks.append(pick)
    return picks


def parse_recorded_array(text: str, *, source: str) -> list[Pick]:
    """The picks of a recorded bare array (bare, fenced or in prose)."""
    return validate_picks(extract_json_array(text, source=source), source=source, bare=True)


def selection_score(sentiment: float, policy_link: str, has_mention: bool) -> float:
    raw = (
        sentiment * SENTIMENT_POINTS
        + POLICY_POINTS[policy_link]
        + (MENTION_POINTS if has_mention else 0.0)
    )
    # Rounded so that equal inputs tie exactly and stored values read cleanly.
    return round(raw, 6)


def candidates_table(
    picks: Sequence[Pick],
    *,
    trading_date: str,
    model: str,
    prompt_version: str,
    response_id: str | None,
    evidence_urls: Mapping[str, Sequence[str]] | None = None,
) -> pa.Table:
    """The picks as a CANDIDATE_SCHEMA table sorted by grok_rank.

    ``evidence_urls`` per code (the pick's URLs that the response cites); a pick not in
    it keeps its own, as given (a bare recorded array, which is checked against nothing).
    """
    if not ISO_DATE.match(trading_date):
        raise ValueError(f"trading_date must be YYYY-MM-DD, got {trading_date!r}")
    scored = [(selection_score(p.sentiment_score, p.policy_link, p.has_mention), p) for p in picks]
    # sorted() is stable, so equal scores keep the model's own order.
    ranked = sorted(scored, key=lambda pair: -pair[0])
    rows = [
        {
            "date": trading_date,
            "ticker": f"{pick.code}.T",
            "code": pick.code,
            "stock_name": pick.stock_name,
            "reason": pick.reason,
            "category": pick.category,
            "sentiment_score": pick.sentiment_score,
            "policy_link": pick.policy_link,
            "has_mention": pick.has_mention,
            "mentioned_by": ", ".join(pick.mentioned_by),
            "selection_score": score,
            "grok_rank": rank,
            "selected_time": SELECTED_TIME,
            "prompt_version": prompt_version,
            "model": model,
            "response_id": response_id,
            "evidence_urls": list((evidence_urls or {}).get(pick.code, pick.evidence_urls)),
        }
        for rank, (score, pick) in enumerate(ranked, start=1)
    ]
    return pa.Table.from_pylist(rows, schema=CANDIDATE_SCHEMA)
