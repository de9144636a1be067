"""Backtest feedback in the selection prompt: figures, window, rendering, S3 read.

Expected figures are worked out by hand from the literal rows below, not recomputed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from grok_assets import layout
from grok_assets.defs.resources import SelectorResource
from grok_assets.dev.sample_data import SAMPLE_UNIVERSE, sample_picks
from grok_assets.schemas import BACKTEST_SCHEMA
from grok_assets.selection.feedback import (
    COLUMNS,
    CategoryStats,
    PhaseStats,
    PickResult,
    compute_feedback,
    feedback_window,
    load_feedback,
    render_feedback,
)
from grok_assets.selection.prompt import NO_HISTORY, PromptContext, build_prompt
from grok_assets.selection.selector import prompt_context
from grok_assets.settings import DEFAULT_XAI_MAX_ATTEMPTS, DEFAULT_XAI_TIMEOUT_S
from grok_assets.storage import S3Store, write_parquet
from grok_assets_tests.support import responses_server as srv
from grok_assets_tests.support.factories import backtest_rows, replace_column
from grok_assets_tests.support.responses_server import KEY, MODEL, FakeResponses

# Tue 2026-11-24 follows the Mon 2026-11-23 holiday (Labour Thanksgiving Day).
TRADING_DAY = dt.date(2026, 11, 24)
WINDOW = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]

# backtest_date, code, name, category, phase1 return/win, phase2 return/win
ROWS: list[tuple[Any, ...]] = [
    ("2026-11-13", "9999", "Old", "古い", 0.40, True, 0.50, True),  # 6 trading days back
    ("2026-11-24", "9998", "Today", "当日", -0.40, False, -0.50, False),  # the target day
    ("2026-11-16", "1001", "A", "防衛", 0.02, True, 0.04, True),
    ("2026-11-17", "1002", "B", "防衛", -0.01, False, 0.01, True),
    ("2026-11-18", "1003", "C", "半導体", None, None, -0.03, False),  # daily bars only
    ("2026-11-19", "1004", "D", "半導体", 0.01, True, -0.05, False),
    ("2026-11-20", "1005", "E", "材料株", 0.00, False, 0.02, True),
    ("2026-11-20", "1006", "F", None, None, None, None, None),  # no bars at all
    ("2026-11-20", "1007", "G", "決算", 0.03, True, 0.06, True),
]

EXPECTED_TEXT = """\
- Last 5 trading days (2026-11-16 to 2026-11-20): results for 5 of 5 days, 7 picks.
- Phase 1 (sell at the 11:30 morning close): win rate 60.0% (3 of 5), mean return +1.00%.
- Phase 2 (sell at the 15:30 close): win rate 66.7% (4 of 6), mean return +0.83%.
- Best category by phase-2 return: 決算 +6.00% (1 pick). Worst: 半導体 -4.00% (2 picks).
- Top picks (phase 2): 1007 G +6.00% on 2026-11-20; 1001 A +4.00% on 2026-11-16; \
1005 E +2.00% on 2026-11-20.
- Worst picks (phase 2): 1004 D -5.00% on 2026-11-19; 1003 C -3.00% on 2026-11-18; \
1002 B +1.00% on 2026-11-17."""


def feedback_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """The archive columns the feedback reads, with the archive's types."""
    names = ["backtest_date", "code", "stock_name", "category"]
    names += ["phase1_return", "phase1_win", "phase2_return", "phase2_win"]
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    columns["ticker"] = [f"{code}.T" for code in columns["code"]]
    return pa.Table.from_pydict(
        {name: columns[name] for name in COLUMNS},
        schema=pa.schema([BACKTEST_SCHEMA.field(name) for name in COLUMNS]),
    )


def archive_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """A full BACKTEST_SCHEMA archive holding ``rows``."""
    table = backtest_rows("2026-01-05", count=len(rows))
    subset = feedback_table(rows)
    for name in COLUMNS:
        table = replace_column(table, name, subset.column(name))
    return replace_column(table, "selection_date", subset.column("backtest_date"))


def test_window_is_the_five_trading_days_before_across_a_holiday() -> None:
    assert feedback_window(TRADING_DAY) == WINDOW
    assert feedback_window(dt.date(2026, 11, 20), 2) == ["2026-11-18", "2026-11-19"]


def test_figures_ignore_nulls_and_rows_outside_the_window() -> None:
    feedback = compute_feedback(feedback_table(ROWS), WINDOW)

    assert feedback is not None
    assert feedback.window == tuple(WINDOW)
    assert feedback.dates_with_results == tuple(WINDOW)
    assert feedback.rows == 7
    assert feedback.phase1 == PhaseStats(3, 5, pytest.approx(0.6), pytest.approx(0.01))
    assert feedback.phase2 == PhaseStats(4, 6, pytest.approx(4 / 6), pytest.approx(0.05 / 6))
    assert feedback.best_category == CategoryStats("決算", pytest.approx(0.06), 1)
    assert feedback.worst_category == CategoryStats("半導体", pytest.approx(-0.04), 2)
    assert [(p.code, p.backtest_date) for p in feedback.top_picks] == [
        ("1007", "2026-11-20"),
        ("1001", "2026-11-16"),
        ("1005", "2026-11-20"),
    ]
    assert feedback.top_picks[0] == PickResult("2026-11-20", "1007.T", "1007", "G", 0.06)
    assert [(p.code, p.phase2_return) for p in feedback.worst_picks] == [
        ("1004", -0.05),
        ("1003", -0.03),
        ("1002", 0.01),
    ]


def test_pandas_input_gives_the_same_figures() -> None:
    table = feedback_table(ROWS)
    assert compute_feedback(table.to_pandas(), WINDOW) == compute_feedback(table, WINDOW)


def test_render_is_compact_plain_text() -> None:
    assert render_feedback(compute_feedback(feedback_table(ROWS), WINDOW)) == EXPECTED_TEXT


def test_sparse_history() -> None:
    # One pick with daily bars only: no phase-1 result, one category, no worst list.
    rows = [("2026-11-19", "1003", None, "半導体", None, None, -0.03, False)]
    feedback = compute_feedback(feedback_table(rows), WINDOW)

    assert feedback is not None
    assert feedback.phase1 == PhaseStats(0, 0, None, None)
    assert feedback.worst_category is None and feedback.worst_picks == ()
    assert render_feedback(feedback) == (
        "- Last 5 trading days (2026-11-16 to 2026-11-20): results for 1 of 5 days, 1 pick.\n"
        "- Phase 1 (sell at the 11:30 morning close): no results.\n"
        "- Phase 2 (sell at the 15:30 close): win rate 0.0% (0 of 1), mean return -3.00%.\n"
        "- Best category by phase-2 return: 半導体 -3.00% (1 pick).\n"
        "- Top picks (phase 2): 1003 -3.00% on 2026-11-19."
    )


def test_no_rows_in_the_window_is_no_history() -> None:
    assert compute_feedback(feedback_table(ROWS[:2]), WINDOW) is None
    assert render_feedback(None) == NO_HISTORY
    assert "no backtest history" in NO_HISTORY.lower()


def test_prompt_carries_the_feedback_and_the_three_dates() -> None:
    feedback = render_feedback(compute_feedback(feedback_table(ROWS), WINDOW))
    context = PromptContext("2026-11-23", "2026-11-20", "2026-11-25", feedback=feedback)

    text = build_prompt(TRADING_DAY.isoformat(), context)

    assert EXPECTED_TEXT in text and NO_HISTORY not in text
    for date in ("2026-11-24", "2026-11-23", "2026-11-20", "2026-11-25"):
        assert date in text
    assert "$" not in text


def test_load_feedback_reads_the_archive_in_s3(store: S3Store) -> None:
    write_parquet(store, layout.ARCHIVE, archive_table(ROWS))

    feedback = load_feedback(store, TRADING_DAY)

    assert feedback == compute_feedback(feedback_table(ROWS), WINDOW)
    assert render_feedback(feedback) == EXPECTED_TEXT
    # Two days earlier the window is 11-12..11-18: only 9999 (11-13) and 1001..1003 count.
    earlier = load_feedback(store, dt.date(2026, 11, 19))
    assert earlier is not None and earlier.rows == 4
    assert earlier.dates_with_results == ("2026-11-13", "2026-11-16", "2026-11-17", "2026-11-18")


def test_missing_archive_says_there_is_no_history(store: S3Store) -> None:
    assert load_feedback(store, TRADING_DAY) is None

    context = prompt_context(TRADING_DAY, store)

    assert context.feedback == NO_HISTORY
    assert (context.latest_trading_day, context.next_trading_day) == ("2026-11-20", "2026-11-25")
    assert "No backtest history yet" in build_prompt(TRADING_DAY.isoformat(), context)


def test_xai_selector_sends_the_feedback(
    store: S3Store, fake: FakeResponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_parquet(store, layout.ARCHIVE, archive_table(ROWS))
    # The key comes from the environment only; everything else is the resource's.
    monkeypatch.setenv("XAI_API_KEY", KEY)
    fake.script = [srv.grounded(sample_picks(TRADING_DAY.isoformat(), SAMPLE_UNIVERSE))]
    selector = SelectorResource(
        kind="xai",
        model=MODEL,
        base_url=fake.base_url,
        timeout_s=DEFAULT_XAI_TIMEOUT_S,
        max_attempts=DEFAULT_XAI_MAX_ATTEMPTS,
    )

    selection = selector.select(TRADING_DAY, store)

    assert selection.table.num_rows > 0
    (request,) = fake.requests
    prompt = request["body"]["input"][-1]["content"]
    assert EXPECTED_TEXT in prompt
    assert "2026-11-20" in prompt and "2026-11-25" in prompt
