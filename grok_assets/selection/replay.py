"""Recorded answers for demos and re-runs without calling the model."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence

REPLAY_PREFIX = "grok/replay"
SAMPLE_SIZE = 12
SAMPLE_MARK = "[SAMPLE - not a real analysis]"
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_CATEGORIES = ("決算", "防衛", "半導体", "材料株", "エネルギー", "インバウンド")
_POLICY = ("High", "Med", "Low")
_ACCOUNTS = ("@sample_trader_a", "@sample_trader_b", "@sample_media")


def replay_key(trading_date: str) -> str:
    """S3 key of the recorded answer for ``trading_date``, relative to the bucket prefix."""
    match = _ISO_DATE.match(trading_date)
    if not match:
        raise ValueError(f"trading_date must be YYYY-MM-DD, got {trading_date!r}")
    return f"{REPLAY_PREFIX}/{''.join(match.groups())}.json"


def sample_answer(trading_date: str, universe: Sequence[tuple[str, str]], seed: int = 0) -> str:
    """A deterministic answer in the model's own format, drawn from ``(code, name)`` pairs."""
    replay_key(trading_date)  # same date check, one message
    unique = list(dict.fromkeys(universe))
    if len({code for code, _ in unique}) < SAMPLE_SIZE:
        raise ValueError(f"universe needs at least {SAMPLE_SIZE} distinct codes")
    # A string seed is hashed with SHA-512 by random, so this is stable across runs
    # and PYTHONHASHSEED values.
    rng = random.Random(f"{trading_date}/{seed}")
    by_code = dict(unique)
    items = []
    for code in rng.sample(sorted(by_code), SAMPLE_SIZE):
        category = rng.choice(_CATEGORIES)
        has_mention = rng.random() < 0.4
        items.append(
            {
                "code": code,
                "stock_name": by_code[code],
                "reason": f"{SAMPLE_MARK} {category} theme pick for {trading_date}.",
                "category": category,
                "sentiment_score": round(rng.uniform(0.4, 0.95), 2),
                "policy_link": rng.choice(_POLICY),
                "has_mention": has_mention,
                "mentioned_by": [rng.choice(_ACCOUNTS)] if has_mention else [],
            }
        )
    return json.dumps(items, ensure_ascii=False, indent=2)
