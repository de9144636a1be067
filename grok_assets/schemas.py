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

# Columns candidate files written before the answer's evidence was kept do not have.
CANDIDATE_OPTIONAL = ("response_id", "evidence_urls")


def conform_candidates(table: pa.Table, where: str) -> pa.Table:
    """A stored candidates file in CANDIDATE_SCHEMA: the optional columns null where an
    earlier file lacks them; anything else missing or of another type is refused."""
    for name in CANDIDATE_OPTIONAL:
        if name not in table.schema.names:
            field = CANDIDATE_SCHEMA.field(name)
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    require_schema(table, CANDIDATE_SCHEMA, where)
    return table.select(CANDIDATE_SCHEMA.names)


# The published selection (grok_trending.parquet): the day's candidates plus what the
# all-stocks builder and the stock list API read (UPSTREAM.md).
PUBLISHED_SCHEMA = pa.schema(
    [
        *CANDIDATE_SCHEMA,
        pa.field("categories", pa.list_(pa.string())),
        pa.field("tags", pa.string()),
        pa.field("source", pa.string()),
        pa.field("selection_rank", pa.int64()),
        pa.field("updated_at", pa.string()),
    ]
)

PHASE3_LEVELS = (1, 2, 3)


def _phase3_fields() -> list[pa.Field]:
    fields: list[pa.Field] = []
    for level in PHASE3_LEVELS:
        stem = f"phase3_{level}pct"
        fields += [
            pa.field(f"{stem}_return", pa.float64()),
            pa.field(f"{stem}_win", pa.bool_()),
            pa.field(f"{stem}_exit_reason", pa.string()),
            pa.field(f"profit_per_100_shares_{stem}", pa.float64()),
        ]
    return fields


# The established column names of the archive and the daily backups (UPSTREAM.md), which
# the API server and the dashboards read; the project's own additions (code, the model's
# scores, model, ...) come after the names they sit beside.
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
        # The answer the row's pick came from (grok/answers/YYYYMMDD.json).
        pa.field("response_id", pa.string()),
        # When the selection was made; the backtest dashboard shows it.
        pa.field("selected_time", pa.string()),
        pa.field("data_source", pa.string(), nullable=False),
        pa.field("buy_price", pa.float64()),
        # Phase 1's exit: the close of the last morning bar.
        pa.field("sell_price", pa.float64()),
        pa.field("daily_close", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("volume", pa.int64()),
        pa.field("phase1_return", pa.float64()),
        pa.field("phase1_win", pa.bool_()),
        pa.field("profit_per_100_shares_phase1", pa.float64()),
        pa.field("phase2_return", pa.float64()),
        pa.field("phase2_win", pa.bool_()),
        pa.field("profit_per_100_shares_phase2", pa.float64()),
        *_phase3_fields(),
        pa.field("morning_high", pa.float64()),
        pa.field("morning_low", pa.float64()),
        pa.field("morning_max_gain_pct", pa.float64()),
        pa.field("morning_max_drawdown_pct", pa.float64()),
        pa.field("daily_max_gain_pct", pa.float64()),
        pa.field("daily_max_drawdown_pct", pa.float64()),
    ]
)

# The vocabularies the archive's readers know.
DATA_SOURCES = ("5min", "1d", "no_bars")
HOLD_UNTIL_CLOSE = "hold_until_close"


def take_profit_reason(level: int) -> str:
    return f"profit_take_{level:.1f}%"


def stop_loss_reason(level: int) -> str:
    return f"stop_loss_-{level:.1f}%"


# pandas 2 wrote strings as ``string``, pandas 3 as ``large_string``; both, and a string
# view or dictionary, are one type to every reader here.
def is_string_like(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        return is_string_like(data_type.value_type)
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def is_date_like(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_date(data_type) or pa.types.is_timestamp(data_type))


def plain_type(data_type: pa.DataType) -> pa.DataType:
    """``data_type`` with every string-like part spelled ``string``."""
    if is_string_like(data_type):
        return pa.string()
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return pa.list_(plain_type(data_type.value_type))
    return data_type


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
