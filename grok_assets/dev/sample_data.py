"""Synthetic price bars and recorded answers for the demo. SYNTHETIC SAMPLE DATA - not
real prices, not a real analysis.

The codes and names are real TSE Prime stocks so the demo reads naturally, but every
price and volume is a random walk. Tickers are ``"<code>.T"``. Prices are whole yen
(ignoring the real tick-size table); 5-minute bars start 09:00..11:25 and 12:30..15:25
Tokyo time and aggregate exactly to the daily bars.

A day depends only on ``(seed, day)``, never on which other days were requested: the
day's opening level is a moving sum of per-calendar-day shocks over the preceding
``_LEVEL_WINDOW`` days, each drawn from its own ``(seed, day)`` generator. That gives a
walk that wanders from day to day yet stays within a plausible band of its base price.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from grok_assets import trading_calendar
from grok_assets.schemas import BARS_5M_SCHEMA, DAILY_BARS_SCHEMA
from grok_assets.trading_calendar import TOKYO

SAMPLE_LABEL = "SYNTHETIC SAMPLE DATA - not real prices"
SAMPLE_METADATA_KEY = b"grok_assets.sample"

SAMPLE_UNIVERSE: tuple[tuple[str, str], ...] = (
    ("7203", "Toyota Motor"),
    ("6758", "Sony Group"),
    ("9984", "SoftBank Group"),
    ("8035", "Tokyo Electron"),
    ("6861", "Keyence"),
    ("9983", "Fast Retailing"),
    ("8306", "Mitsubishi UFJ Financial Group"),
    ("8316", "Sumitomo Mitsui Financial Group"),
    ("6098", "Recruit Holdings"),
    ("4063", "Shin-Etsu Chemical"),
    ("9432", "Nippon Telegraph and Telephone"),
    ("9433", "KDDI"),
    ("8058", "Mitsubishi Corporation"),
    ("8001", "Itochu"),
    ("6501", "Hitachi"),
    ("7974", "Nintendo"),
    ("4502", "Takeda Pharmaceutical"),
    ("4568", "Daiichi Sankyo"),
    ("6367", "Daikin Industries"),
    ("7267", "Honda Motor"),
    ("6902", "Denso"),
    ("6981", "Murata Manufacturing"),
    ("6857", "Advantest"),
    ("7011", "Mitsubishi Heavy Industries"),
    ("8766", "Tokio Marine Holdings"),
)
SAMPLE_TICKERS: tuple[str, ...] = tuple(f"{code}.T" for code, _ in SAMPLE_UNIVERSE)

# Bar start minutes after midnight: 30 morning bars, 36 afternoon bars.
BAR_MINUTES = np.r_[np.arange(9 * 60, 11 * 60 + 30, 5), np.arange(12 * 60 + 30, 15 * 60 + 30, 5)]
_LUNCH_BAR = 30
_STEPS = 6  # per bar: a gap into the bar's open, then five one-minute moves
_LEVEL_WINDOW = 120  # calendar days; sets how far a price can wander from its base
_LEVEL_SHOCK = 0.01  # per calendar day: about 1.4% day-to-day, 11% long-run spread
_MINUTE_VOL = 0.0008  # about 1.5% over a session
_LUNCH_GAP_VOL = 0.003


def sample_daily_bars(days: Sequence[dt.date], seed: int = 0) -> pa.Table:
    """Daily bars (DAILY_BARS_SCHEMA) for every sample ticker on every day in ``days``."""
    dates, o, h, lo, c, v = _simulate(days, seed)
    columns = {
        "date": np.repeat(dates, len(SAMPLE_TICKERS)),
        "ticker": np.tile(SAMPLE_TICKERS, len(dates)),
        "open": o[..., 0].ravel(),
        "high": h.max(axis=-1).ravel(),
        "low": lo.min(axis=-1).ravel(),
        "close": c[..., -1].ravel(),
        "volume": v.sum(axis=-1).ravel(),
    }
    return _labelled(columns, DAILY_BARS_SCHEMA)


def sample_5m_bars(days: Sequence[dt.date], seed: int = 0) -> pa.Table:
    """5-minute bars (BARS_5M_SCHEMA) matching :func:`sample_daily_bars` exactly."""
    dates, o, h, lo, c, v = _simulate(days, seed)
    per_day = len(SAMPLE_TICKERS) * len(BAR_MINUTES)
    starts = np.asarray(dates, dtype="datetime64[D]")[:, None] + BAR_MINUTES.astype(
        "timedelta64[m]"
    )
    local = np.repeat(starts[:, None, :], len(SAMPLE_TICKERS), axis=1).ravel()
    columns = {
        "datetime": pd.DatetimeIndex(local.astype("datetime64[ns]")).tz_localize(TOKYO),
        "date": np.repeat(dates, per_day),
        "ticker": np.tile(np.repeat(SAMPLE_TICKERS, len(BAR_MINUTES)), len(dates)),
        "open": o.ravel(),
        "high": h.ravel(),
        "low": lo.ravel(),
        "close": c.ravel(),
        "volume": v.ravel(),
    }
    return _labelled(columns, BARS_5M_SCHEMA)


def _labelled(columns: dict[str, object], schema: pa.Schema) -> pa.Table:
    table = pa.Table.from_pydict(columns, schema=schema)
    return table.replace_schema_metadata({SAMPLE_METADATA_KEY: SAMPLE_LABEL.encode()})


def _simulate(
    days: Sequence[dt.date], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bars as (day, ticker, bar) arrays: ISO dates, open, high, low, close, volume."""
    ordered = sorted(set(days))
    ordinals = np.array([day.toordinal() for day in ordered], dtype=np.int64)
    n_tickers = len(SAMPLE_TICKERS)

    # Per-ticker character depends on the seed alone so it is the same on every day.
    character = np.random.default_rng([seed])
    base_price = np.exp(character.uniform(np.log(800), np.log(20_000), n_tickers))
    volatility = character.uniform(0.7, 1.5, n_tickers)
    base_volume = np.exp(character.uniform(np.log(2_000), np.log(200_000), n_tickers))

    window = ordinals[:, None] - np.arange(_LEVEL_WINDOW)
    needed = np.unique(window)
    shocks = np.array(
        [np.random.default_rng([seed, day, 0]).normal(size=n_tickers) for day in needed]
    ).reshape(len(needed), n_tickers)
    drift = shocks[np.searchsorted(needed, window)].sum(axis=1) * _LEVEL_SHOCK
    log_open = np.log(base_price) + drift * volatility  # (day, ticker)

    # Volume is U-shaped within each session, as on the real exchange.
    sessions = (np.arange(_LUNCH_BAR), np.arange(len(BAR_MINUTES) - _LUNCH_BAR))
    from_open = np.concatenate(sessions)
    to_close = np.concatenate([s[::-1] for s in sessions])
    profile = 1 + 2 * np.exp(-from_open / 4) + 1.5 * np.exp(-to_close / 4)

    shape = (n_tickers, len(BAR_MINUTES), _STEPS)
    steps = np.empty((len(ordered), *shape))
    noise = np.empty((len(ordered), n_tickers, len(BAR_MINUTES)))
    for i, day in enumerate(ordinals):
        rng = np.random.default_rng([seed, int(day), 1])
        steps[i] = rng.normal(0, _MINUTE_VOL, shape) * volatility[:, None, None]
        steps[i, :, :, 0] = 0.0
        steps[i, :, _LUNCH_BAR, 0] = rng.normal(0, _LUNCH_GAP_VOL, n_tickers)
        noise[i] = rng.lognormal(0, 0.5, noise.shape[1:])

    path = log_open[:, :, None] + np.cumsum(
        steps.reshape(*steps.shape[:2], len(BAR_MINUTES) * _STEPS), axis=-1
    )
    # Rounding the path before cutting it into bars keeps bars and days consistent.
    prices = np.maximum(np.round(np.exp(path)), 1.0).reshape(steps.shape)
    volume = np.maximum(np.round(base_volume[None, :, None] * profile * noise), 1)
    return (
        np.array([day.isoformat() for day in ordered], dtype=str),
        prices[..., 0],
        prices.max(axis=-1),
        prices.min(axis=-1),
        prices[..., -1],
        volume.astype(np.int64),
    )


# -- recorded answers, for GROK_SELECTOR=replay ----------------------------------------
#
# Each day's answer is a recorded Responses API body shaped like a real grok-4.3 one:
# search calls (x_search_call, web_search_call), usage with server-side tool counts and
# cost, and one message whose output_text is the structured answer {"picks": [...]},
# with a url_citation annotation per source found. The evidence is quoted as a model
# quotes it (a post under its author's handle) and cited as xAI cites it
# (https://x.com/i/status/ID), so the demo runs the real grounding rule. The posts and
# pages do not exist: the handles are sample ones and the articles live on example.com.

SAMPLE_SIZE = 12
SAMPLE_MARK = "[SAMPLE - not a real analysis]"
SAMPLE_MODEL = "grok-4.3 (sample recording)"
_CATEGORIES = ("決算", "防衛", "半導体", "材料株", "エネルギー", "インバウンド")
_POLICY = ("High", "Med", "Low")
_ACCOUNTS = ("sample_trader_a", "sample_trader_b", "sample_media")
_X_CALLS = 2
_WEB_CALLS = 1
# What a grok-4.3 call of this size costs, roughly: about 0.04 USD.
_BASE_COST_TICKS = 292_331_500
_COST_PER_SEARCH_TICKS = 50_000_000


def _post_url(handle: str, rng: random.Random) -> tuple[str, str]:
    """(as quoted, as cited) for one sample X post."""
    status = rng.randrange(10**18, 2 * 10**18)
    return f"https://x.com/{handle}/status/{status}", f"https://x.com/i/status/{status}"


def sample_picks(
    trading_date: str, universe: Sequence[tuple[str, str]], seed: int = 0
) -> list[dict[str, Any]]:
    """Deterministic picks in the model's own format, drawn from ``(code, name)`` pairs;
    each cites one sample X post and one sample article."""
    trading_calendar.parse_date(trading_date)  # refuses anything but a real date
    unique = list(dict.fromkeys(universe))
    if len({code for code, _ in unique}) < SAMPLE_SIZE:
        raise ValueError(f"universe needs at least {SAMPLE_SIZE} distinct codes")
    # A string seed is hashed with SHA-512 by random, so this is stable across runs
    # and PYTHONHASHSEED values.
    rng = random.Random(f"{trading_date}/{seed}")
    by_code = dict(unique)
    items: list[dict[str, Any]] = []
    for code in rng.sample(sorted(by_code), SAMPLE_SIZE):
        category = rng.choice(_CATEGORIES)
        has_mention = rng.random() < 0.4
        handle = rng.choice(_ACCOUNTS)
        post, _ = _post_url(handle, rng)
        items.append(
            {
                "code": code,
                "stock_name": by_code[code],
                "reason": f"{SAMPLE_MARK} {category} theme pick for {trading_date}.",
                "category": category,
                "sentiment_score": round(rng.uniform(0.4, 0.95), 2),
                "policy_link": rng.choice(_POLICY),
                "has_mention": has_mention,
                "mentioned_by": [f"@{handle}"] if has_mention else [],
                "evidence_urls": [
                    post,
                    f"https://example.com/sample-news/{trading_date}/{code}",
                ],
            }
        )
    return items


def cited_form(url: str) -> str:
    """A sample URL as the search cites it: X posts as https://x.com/i/status/ID."""
    prefix, _, status = url.rpartition("/status/")
    return f"https://x.com/i/status/{status}" if prefix.startswith("https://x.com/") else url


def sample_response(
    trading_date: str, universe: Sequence[tuple[str, str]], seed: int = 0
) -> dict[str, Any]:
    """The recorded Responses body of :func:`sample_picks`: searched, cited, costed."""
    picks = sample_picks(trading_date, universe, seed)
    compact = trading_date.replace("-", "")
    cited = list(dict.fromkeys(cited_form(url) for pick in picks for url in pick["evidence_urls"]))
    searches = [
        {"type": "x_search_call", "id": f"xs_sample_{compact}_{n}", "status": "completed"}
        for n in range(_X_CALLS)
    ] + [
        {
            "type": "web_search_call",
            "id": f"ws_sample_{compact}_{n}",
            "status": "completed",
            "action": {"type": "search", "query": f"東証 材料 {trading_date}"},
        }
        for n in range(_WEB_CALLS)
    ]
    message = {
        "type": "message",
        "id": f"msg_sample_{compact}",
        "role": "assistant",
        "status": "completed",
        "content": [
            {
                "type": "output_text",
                "text": json.dumps({"picks": picks}, ensure_ascii=False),
                # With include=["no_inline_citations"] the sources come without
                # positions in the text, and the title is the URL.
                "annotations": [
                    {
                        "type": "url_citation",
                        "url": url,
                        "title": url,
                        "start_index": 0,
                        "end_index": 0,
                    }
                    for url in cited
                ],
                "logprobs": [],
            }
        ],
    }
    calls = _X_CALLS + _WEB_CALLS
    return {
        "id": f"sample-{compact}-{seed}",
        "object": "response",
        "created_at": 0,
        "model": SAMPLE_MODEL,
        "status": "completed",
        "output": [*searches, message],
        "usage": {
            "input_tokens": 7583,
            "output_tokens": 3192,
            "total_tokens": 10775,
            "num_sources_used": len(cited),
            "num_server_side_tools_used": calls,
            "cost_in_usd_ticks": _BASE_COST_TICKS + _COST_PER_SEARCH_TICKS * calls,
            "server_side_tool_usage_details": {
                "web_search_calls": _WEB_CALLS,
                "x_search_calls": _X_CALLS,
            },
        },
    }


def sample_answer(trading_date: str, universe: Sequence[tuple[str, str]], seed: int = 0) -> str:
    """The recorded answer for ``grok/replay/YYYYMMDD.json``: a Responses body as JSON."""
    return json.dumps(sample_response(trading_date, universe, seed), ensure_ascii=False, indent=1)
