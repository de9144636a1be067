"""Arrow schemas of every parquet object the pipeline reads or writes.

They are the contract with downstream consumers: date columns stay ``YYYY-MM-DD``
strings because consumers compare them to strings, and a date-typed column would
silently match nothing.
"""

from __future__ import annotations

import pyarrow as pa

from grok_assets.trading_calendar import TOKYO

# The archive's date column: every question about "is day D backed up" is asked of it.
BACKTEST_DATE = "backtest_date"

DAILY_BARS_SCHEMA = pa.schema(
    [
        pa.field("date", pa.string(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("open", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("close", pa.float64()),
        pa.field("volume", pa.int64()),
    ]
)

BARS_5M_SCHEMA = pa.schema(
    [
        # Bar start time in Tokyo; the 09:00 bar covers 09:00-09:05.
        pa.field("datetime", pa.timestamp("ns", tz=TOKYO), nullable=False),
        pa.field("date", pa.string(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("open", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("close", pa.float64()),
        pa.field("volume", pa.int64()),
    ]
)

CANDIDATE_SCHEMA = pa.schema(
    [
        pa.field("date", pa.string(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("code", pa.string(), nullable=False),
        pa.field("stock_name", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("category", pa.string()),
        pa.field("sentiment_score", pa.float64()),
        pa.field("policy_link", pa.string()),
        pa.field("has_mention", pa.bool_()),
        pa.field("mentioned_by", pa.string()),
        pa.field("selection_score", pa.float64()),
        pa.field("grok_rank", pa.int64()),
        pa.field("selected_time", pa.string()),
        pa.field("prompt_version", pa.string()),
        # As the API returned it (it may name a more specific version than was asked
        # for); "replay" for a recorded bare array, which names no model.
        pa.field("model", pa.string()),
        # The Responses API id of the answer (grok/answers/YYYYMMDD.json holds it whole);
        # null for a recorded bare array.
        pa.field("response_id", pa.string()),
        # The pick's evidence that the response cites: X posts and articles.
        pa.field("evidence_urls", pa.list_(pa.string())),
    ]
)

_PHASE3_LEVELS = (1, 2, 3)


def _phase3_fields() -> list[pa.Field]:
    fields: list[pa.Field] = []
    for level in _PHASE3_LEVELS:
        stem = f"phase3_{level}pct"
        fields += [
            pa.field(f"{stem}_return", pa.float64()),
            pa.field(f"{stem}_win", pa.bool_()),
            pa.field(f"{stem}_exit_reason", pa.string()),
            pa.field(f"{stem}_profit_per_100", pa.float64()),
        ]
    return fields


BACKTEST_SCHEMA = pa.schema(
    [
        pa.field("selection_date", pa.string(), nullable=False),
        pa.field("backtest_date", pa.string(), nullable=False),
        pa.field("ticker", pa.string(), nullable=False),
        pa.field("code", pa.string(), nullable=False),
        pa.field("stock_name", pa.string()),
        pa.field("category", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("grok_rank", pa.int64()),
        pa.field("selection_score", pa.float64()),
        pa.field("sentiment_score", pa.float64()),
        pa.field("policy_link", pa.string()),
        pa.field("has_mention", pa.bool_()),
        pa.field("mentioned_by", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("model", pa.string()),
        pa.field("data_source", pa.string(), nullable=False),
        pa.field("buy_price", pa.float64()),
        pa.field("daily_close", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("volume", pa.int64()),
        pa.field("phase1_sell_price", pa.float64()),
        pa.field("phase1_return", pa.float64()),
        pa.field("phase1_win", pa.bool_()),
        pa.field("phase1_profit_per_100", pa.float64()),
        pa.field("phase2_sell_price", pa.float64()),
        pa.field("phase2_return", pa.float64()),
        pa.field("phase2_win", pa.bool_()),
        pa.field("phase2_profit_per_100", pa.float64()),
        *_phase3_fields(),
        pa.field("morning_max_gain_pct", pa.float64()),
        pa.field("morning_max_drawdown_pct", pa.float64()),
        pa.field("daily_max_gain_pct", pa.float64()),
        pa.field("daily_max_drawdown_pct", pa.float64()),
    ]
)


class SchemaMismatchError(ValueError):
    """A table's columns differ from the contract; the message names each difference."""


def require_schema(
    table: pa.Table, schema: pa.Schema, where: str, *, allow_extra: bool = True
) -> None:
    """Refuse a table whose columns differ from ``schema``, naming what differs.

    Types must match exactly rather than be cast: a cast would silently rewrite a
    timestamp ``backtest_date`` into ``"YYYY-MM-DD 00:00:00"``, which no consumer's
    string comparison matches.
    """
    names = table.schema.names
    problems: list[str] = []
    extra = [name for name in names if name not in schema.names]
    if extra and not allow_extra:
        problems.append(f"has column(s) {', '.join(extra)} that the schema does not know")
    missing = [name for name in schema.names if name not in names]
    if missing:
        problems.append(f"lacks column(s) {', '.join(missing)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"repeats column(s) {', '.join(repeated)}")
    if not problems:
        wrong = [
            f"{field.name} is {table.schema.field(field.name).type}, expected {field.type}"
            for field in schema
            if not table.schema.field(field.name).type.equals(field.type)
        ]
        if wrong:
            problems.append(f"has column(s) of the wrong type: {'; '.join(wrong)}")
    if problems:
        raise SchemaMismatchError(f"{where} {'; '.join(problems)}")
