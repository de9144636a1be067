"""The user's bucket taken over: the previous pipeline's objects adopted, then a full day of
the cycle run by the real jobs, and every reader of ``UPSTREAM.md`` still served."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from grok_assets import layout, trading_calendar
from grok_assets.cli.args import EXIT_OK
from grok_assets.cli.main import main
from grok_assets.dev.sample_data import SAMPLE_UNIVERSE
from grok_assets.schemas import DATA_SOURCES, HOLD_UNTIL_CLOSE
from grok_assets.storage import S3Store
from grok_assets_tests.support.harness import manifest_violations
from grok_assets_tests.support.pipeline import Pipeline
from grok_assets_tests.support.upstream_bucket import (
    LAST_DAY,
    UpstreamBucket,
    build_upstream_bucket,
)

FIRST_NEW_DAY = trading_calendar.next_trading_day(LAST_DAY)
ALL_STOCKS_COLUMNS = ["ticker", "code", "stock_name", "categories", "tags", "date"]
STOCK_LIST_COLUMNS = [
    "ticker",
    "code",
    "stock_name",
    "categories",
    "tags",
    "selection_score",
    "reason",
]
EXIT_WORDS = {HOLD_UNTIL_CLOSE} | {
    word for level in (1, 2, 3) for word in (f"profit_take_{level}.0%", f"stop_loss_-{level}.0%")
}


def raw(store: S3Store, relative_key: str) -> bytes:
    body = store.client.get_object(Bucket=store.bucket, Key=store.location.key(relative_key))
    return bytes(body["Body"].read())


def table_of(store: S3Store, relative_key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(raw(store, relative_key)))


@pytest.fixture
def taken_over(store: S3Store, environ: dict[str, str], pipeline: Pipeline) -> UpstreamBucket:
    upstream = build_upstream_bucket(store)
    assert main(["adopt"], environ=environ) == EXIT_OK
    store.put_bytes(layout.replay_answer_key(FIRST_NEW_DAY), previous_pipeline_answer().encode())
    assert pipeline.run("selection_job", FIRST_NEW_DAY).success
    assert pipeline.run("backtest_job", FIRST_NEW_DAY).success
    return upstream


def previous_pipeline_answer() -> str:
    """A recorded answer with the previous pipeline's keys (UPSTREAM.md, "The Grok call")."""
    picks = [
        {
            "ticker_symbol": code,
            "company_name": name,
            "reason": f"{name} が X で話題",
            "category": ["防衛", "半導体", "決算"][index % 3],
            "sentiment_score": round(0.5 + index * 0.03, 2),
            "policy_link": ["High", "Med", "Low"][index % 3],
            "has_mention": index % 2 == 0,
            "mentioned_by": ["@kabutan_jp"] if index % 2 == 0 else [],
        }
        for index, (code, name) in enumerate(SAMPLE_UNIVERSE[:12])
    ]
    return json.dumps(picks, ensure_ascii=False)


def dashboard_phase1_summary(archive: pd.DataFrame) -> pd.DataFrame:
    """What the backtest dashboard API computes: top-5 picks per day, phase-1 win rate
    and profit, with its fallback for rows without the profit column."""
    frame = archive.assign(backtest_date=pd.to_datetime(archive["backtest_date"]))
    top = frame[frame["grok_rank"] <= 5]
    profit = top["profit_per_100_shares_phase1"].fillna(
        (top["sell_price"] - top["buy_price"]) * 100
    )
    return (
        top.assign(profit=profit, win=top["phase1_win"].astype("boolean"))
        .groupby("backtest_date")
        .agg(picks=("ticker", "size"), wins=("win", "sum"), profit=("profit", "sum"))
    )


def test_every_original_row_column_and_value_is_still_there(
    taken_over: UpstreamBucket, store: S3Store
) -> None:
    archive = table_of(store, layout.ARCHIVE).to_pandas()
    new_day = archive["backtest_date"] == FIRST_NEW_DAY.isoformat()
    assert new_day.sum() > 0
    kept = archive[~new_day].set_index(["backtest_date", "ticker"]).sort_index()
    original = taken_over.archive.to_pandas()
    original["stock_name"] = original["stock_name"].fillna(original.pop("company_name"))
    original["category"] = original["category"].fillna(original.pop("categories"))
    original = original.set_index(["backtest_date", "ticker"]).sort_index()
    assert list(kept.index) == list(original.index)
    for column in original.columns:
        pd.testing.assert_series_equal(
            kept[column], original[column], check_dtype=False, check_names=False
        )


def test_verify_check_and_fsck_pass_on_the_taken_over_bucket(
    taken_over: UpstreamBucket, environ: dict[str, str]
) -> None:
    day = FIRST_NEW_DAY.strftime("%Y%m%d")
    assert main(["verify", "--date", day], environ=environ) == EXIT_OK
    assert main(["check"], environ=environ) == EXIT_OK
    assert main(["fsck"], environ=environ) == EXIT_OK


def test_the_first_new_day_writes_the_established_columns_and_words(
    taken_over: UpstreamBucket, store: S3Store
) -> None:
    archive = table_of(store, layout.ARCHIVE)
    new = archive.filter(pc.equal(archive.column("backtest_date"), FIRST_NEW_DAY.isoformat()))
    daily = table_of(store, layout.daily_backup_key(FIRST_NEW_DAY))
    for table in (new, daily):
        names = table.schema.names
        for column in (
            "sell_price",
            "profit_per_100_shares_phase1",
            "profit_per_100_shares_phase2",
            "profit_per_100_shares_phase3_1pct",
            "morning_high",
            "morning_low",
            "stock_name",
            "category",
        ):
            assert column in names
        assert set(table.column("data_source").to_pylist()) <= set(DATA_SOURCES)
        words = {
            word
            for level in (1, 2, 3)
            for word in table.column(f"phase3_{level}pct_exit_reason").to_pylist()
            if word is not None
        }
        assert words and words <= EXIT_WORDS
        assert all(value is not None for value in table.column("stock_name").to_pylist())
        # The established score: sentiment*100 + policy 10/20/30 + 50 for a mention.
        scores = table.column("selection_score").to_pylist()
        assert all(10 <= score <= 180 for score in scores) and max(scores) > 1
    # Date columns stay the strings consumers compare with.
    assert archive.schema.field("backtest_date").type == pa.string()
    assert archive.schema.field("selection_date").type == pa.string()


def test_the_dashboards_phase_1_summary_spans_old_and_new_rows(
    taken_over: UpstreamBucket, store: S3Store
) -> None:
    summary = dashboard_phase1_summary(table_of(store, layout.ARCHIVE).to_pandas())
    days = [ts.date() for ts in summary.index]
    assert days == [*taken_over.days, FIRST_NEW_DAY]
    before = dashboard_phase1_summary(taken_over.archive.to_pandas())
    pd.testing.assert_frame_equal(summary.iloc[:-1], before, check_dtype=False)
    assert summary.iloc[-1]["picks"] == 5
    # The day-trade list compares selection_date as a string.
    archive = table_of(store, layout.ARCHIVE).to_pandas()
    assert (archive["selection_date"] >= "2025-11-04").sum() > 0


def test_the_all_stocks_builder_and_the_stock_list_read_the_new_selection(
    taken_over: UpstreamBucket, store: S3Store
) -> None:
    selection = table_of(store, layout.PUBLISHED_SELECTION).to_pandas()
    missing = [column for column in ALL_STOCKS_COLUMNS if column not in selection.columns]
    assert missing == []  # the builder raises on any of these missing
    assert not selection[STOCK_LIST_COLUMNS].isna().any().any()
    assert (selection["date"] == FIRST_NEW_DAY.isoformat()).all()
    assert all(list(value) == ["GROK"] for value in selection["categories"])
    for row in selection.itertuples():
        expected = f"{row.category},{row.selection_score:.1f}"
        assert row.tags in (expected, f"{expected},⭐Top5")
        assert row.tags.endswith("⭐Top5") == (row.grok_rank <= 5)
    assert (selection["source"] == "grok").all()
    assert (selection["selection_rank"] == selection["grok_rank"]).all()
    # What the previous pipeline's gate does with it: a string date.
    assert selection["date"].iloc[0].replace("-", "") == FIRST_NEW_DAY.strftime("%Y%m%d")


def test_the_manifest_lists_the_md5_of_every_objects_bytes(
    taken_over: UpstreamBucket, store: S3Store
) -> None:
    assert manifest_violations(store) == []
    files = json.loads(raw(store, layout.MANIFEST))["files"]
    for key in (layout.ARCHIVE, layout.PUBLISHED_SELECTION, layout.daily_backup_key(FIRST_NEW_DAY)):
        assert files[key]["md5"] == hashlib.md5(raw(store, key)).hexdigest()
        assert files[key]["exists"] is True
