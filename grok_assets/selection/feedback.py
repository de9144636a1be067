"""Backtest feedback for the selection prompt: how recent picks actually did.

The figures come from the archive in S3 (the source of truth), restricted to the last
few JPX trading days before the target day, so the model sees what worked and what
did not without the prompt growing with the history. Returns are fractions, as in the
archive; they are rendered as percentages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from grok_assets import layout, trading_calendar
from grok_assets.selection.prompt import NO_HISTORY
from grok_assets.storage import S3Store, read_planned_rows
from grok_assets.storage.parquet import Filters
from grok_assets.upstream import RENAMED_COLUMNS, archive_rows_as_project, days_filters

FEEDBACK_DAYS = 5
TOP_PICKS = 3
# Only these archive columns are fetched, so the ranged read stays small. Rows the
# previous pipeline wrote may lack some (``code``) or hold them under their old names.
COLUMNS = [
    "backtest_date",
    "ticker",
    "code",
    "stock_name",
    "category",
    "phase1_return",
    "phase1_win",
    "phase2_return",
    "phase2_win",
]


@dataclass(frozen=True)
class PhaseStats:
    """Win rate over rows with a known win, mean return over rows with a known return;
    a row without price data counts as neither a win nor a loss."""

    wins: int
    results: int
    win_rate: float | None
    mean_return: float | None


@dataclass(frozen=True)
class CategoryStats:
    category: str
    mean_return: float  # mean phase-2 return
    rows: int  # rows with a phase-2 return, i.e. what the mean is over


@dataclass(frozen=True)
class PickResult:
    backtest_date: str
    ticker: str
    code: str
    stock_name: str | None
    phase2_return: float


@dataclass(frozen=True)
class BacktestFeedback:
    window: tuple[str, ...]  # the trading days asked for, oldest first
    dates_with_results: tuple[str, ...]  # those of them present in the archive
    rows: int
    phase1: PhaseStats
    phase2: PhaseStats
    best_category: CategoryStats | None
    # None when fewer than two categories have results: best and worst would coincide.
    worst_category: CategoryStats | None
    top_picks: tuple[PickResult, ...]
    # Never repeats a top pick, so with few rows it holds fewer than three.
    worst_picks: tuple[PickResult, ...]


def feedback_window(trading_day: dt.date, days: int = FEEDBACK_DAYS) -> list[str]:
    """The ``days`` JPX trading days strictly before ``trading_day``, oldest first."""
    window: list[dt.date] = []
    day = trading_day
    for _ in range(days):
        day = trading_calendar.previous_trading_day(day)
        window.append(day)
    return [day.isoformat() for day in reversed(window)]


def _phase(frame: pd.DataFrame, phase: int) -> PhaseStats:
    wins = frame[f"phase{phase}_win"].astype("boolean").dropna()
    returns = frame[f"phase{phase}_return"].astype("Float64").dropna()
    return PhaseStats(
        wins=int(wins.sum()),
        results=len(wins),
        win_rate=float(wins.mean()) if len(wins) else None,
        mean_return=float(returns.mean()) if len(returns) else None,
    )


def _picks(frame: pd.DataFrame) -> tuple[PickResult, ...]:
    return tuple(
        PickResult(
            backtest_date=str(row.backtest_date),
            ticker=str(row.ticker),
            code=str(row.code),
            stock_name=None if pd.isna(row.stock_name) else str(row.stock_name),
            phase2_return=float(row.phase2_return),
        )
        for row in frame.itertuples(index=False)
    )


def compute_feedback(
    rows: pa.Table | pd.DataFrame, window: Sequence[str]
) -> BacktestFeedback | None:
    """Figures over the rows whose ``backtest_date`` is in ``window``; None when none is."""
    frame = rows.to_pandas() if isinstance(rows, pa.Table) else rows
    frame = frame[frame["backtest_date"].isin(list(window))]
    if frame.empty:
        return None

    scored = frame.assign(phase2_return=frame["phase2_return"].astype("Float64")).dropna(
        subset=["phase2_return"]
    )
    categories = (
        scored.dropna(subset=["category"])
        .groupby("category")["phase2_return"]
        .agg(mean_return="mean", rows="size")
        .reset_index()
        # Ties broken by name so that the same archive always gives the same prompt.
        .sort_values(["mean_return", "category"], ascending=[False, True], kind="stable")
    )
    category_stats = [
        CategoryStats(str(row.category), float(row.mean_return), int(row.rows))
        for row in categories.itertuples(index=False)
    ]

    ranked = scored.sort_values(
        ["phase2_return", "backtest_date", "ticker"], ascending=[False, True, True], kind="stable"
    )
    top = ranked.head(TOP_PICKS)
    worst = ranked.iloc[len(top) :].sort_values(
        ["phase2_return", "backtest_date", "ticker"], ascending=True, kind="stable"
    )

    return BacktestFeedback(
        window=tuple(sorted(window)),
        dates_with_results=tuple(sorted(frame["backtest_date"].unique())),
        rows=len(frame),
        phase1=_phase(frame, 1),
        phase2=_phase(frame, 2),
        best_category=category_stats[0] if category_stats else None,
        worst_category=category_stats[-1] if len(category_stats) > 1 else None,
        top_picks=_picks(top),
        worst_picks=_picks(worst.head(TOP_PICKS)),
    )


def _pct(value: float) -> str:
    return f"{value * 100:+.2f}%"


def _phase_line(label: str, stats: PhaseStats) -> str:
    if stats.win_rate is None and stats.mean_return is None:
        return f"{label}: no results."
    parts = []
    if stats.win_rate is not None:
        parts.append(f"win rate {stats.win_rate * 100:.1f}% ({stats.wins} of {stats.results})")
    if stats.mean_return is not None:
        parts.append(f"mean return {_pct(stats.mean_return)}")
    return f"{label}: {', '.join(parts)}."


def _count(rows: int) -> str:
    return f"{rows} pick" if rows == 1 else f"{rows} picks"


def _pick_list(picks: Sequence[PickResult]) -> str:
    return "; ".join(
        " ".join(part for part in (pick.code, pick.stock_name) if part)
        + f" {_pct(pick.phase2_return)} on {pick.backtest_date}"
        for pick in picks
    )


def render_feedback(feedback: BacktestFeedback | None) -> str:
    """Compact plain text for the prompt's feedback section."""
    if feedback is None:
        return NO_HISTORY
    days = len(feedback.window)
    lines = [
        f"Last {days} trading days ({feedback.window[0]} to {feedback.window[-1]}): "
        f"results for {len(feedback.dates_with_results)} of {days} days, {_count(feedback.rows)}.",
        _phase_line("Phase 1 (sell at the 11:30 morning close)", feedback.phase1),
        _phase_line("Phase 2 (sell at the 15:30 close)", feedback.phase2),
    ]
    if feedback.best_category is not None:
        best = feedback.best_category
        line = (
            f"Best category by phase-2 return: {best.category} {_pct(best.mean_return)} "
            f"({_count(best.rows)})."
        )
        if feedback.worst_category is not None:
            worst = feedback.worst_category
            line += f" Worst: {worst.category} {_pct(worst.mean_return)} ({_count(worst.rows)})."
        lines.append(line)
    if feedback.top_picks:
        lines.append(f"Top picks (phase 2): {_pick_list(feedback.top_picks)}.")
    if feedback.worst_picks:
        lines.append(f"Worst picks (phase 2): {_pick_list(feedback.worst_picks)}.")
    return "\n".join(f"- {line}" for line in lines)


def load_feedback(
    store: S3Store, trading_day: dt.date, days: int = FEEDBACK_DAYS
) -> BacktestFeedback | None:
    """Feedback from the archive for the ``days`` trading days before ``trading_day``;
    None when there is no archive yet or it holds none of those days."""
    window = feedback_window(trading_day, days)
    uri = store.uri(layout.ARCHIVE)

    def plan(schema: pa.Schema) -> tuple[list[str] | None, Filters]:
        wanted = [*COLUMNS, *RENAMED_COLUMNS]
        days_asked = [dt.date.fromisoformat(day) for day in window]
        return [name for name in wanted if name in schema.names], days_filters(
            schema, "backtest_date", days_asked
        )

    # A filtered ranged read: only the row groups holding the window are fetched.
    table = read_planned_rows(store, layout.ARCHIVE, plan)
    if table is None:
        return None
    return compute_feedback(_with_every_column(archive_rows_as_project(table, uri)), window)


def _with_every_column(table: pa.Table) -> pa.Table:
    """``table`` with each of COLUMNS, null where the rows lack it; ``code`` from the
    ticker, as the previous pipeline's rows have no code."""
    for name in COLUMNS:
        if name in table.schema.names:
            continue
        if name == "code":
            code = pc.replace_substring_regex(table.column("ticker"), r"\.T$", "")
            table = table.append_column(name, code)
        else:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table
