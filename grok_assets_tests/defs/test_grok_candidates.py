"""``grok_candidates`` end to end against a local Responses server, through the real
openai SDK, as server-sent events and as JSON: what is written to S3 (or that nothing
is) and what the run says, for every answer and failure the selection must handle."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult, Failure, build_asset_context

from grok_assets import layout
from grok_assets.definitions import defs
from grok_assets.defs.assets.grok_candidates import grok_candidates
from grok_assets.defs.resources import SelectorResource
from grok_assets.defs.run import run_quietly
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.selection.prompt import PROMPT_VERSION
from grok_assets.storage import S3Store, read_parquet
from grok_assets_tests.support import responses_server as srv
from grok_assets_tests.support.picks import (
    CODES,
    KABUTAN_CITED,
    day_picks,
    grounded_answer,
    post_id,
)

# Tue 2026-11-24 follows the Monday holiday: the last close is Friday 2026-11-20 and the
# selection is made on the evening of Monday 2026-11-23.
DAY = dt.date(2026, 11, 24)
D1, D2 = "2026-11-20", "2026-11-23"


@pytest.fixture(params=[True, False], ids=["sse", "json"])
def stream(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@dataclasses.dataclass
class Run:
    result: ExecuteInProcessResult
    logs: list[str]

    @property
    def failure(self) -> str:
        (event,) = [e for e in self.result.all_events if e.is_step_failure]
        # The whole error as an operator reads it, its causes included.
        return str(event.step_failure_data.error)

    @property
    def metadata(self) -> dict[str, Any]:
        (event,) = self.result.get_asset_materialization_events()
        return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture
def live(
    s3: LoopbackS3, bucket: str, fake: srv.FakeResponses, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Materialize grok_candidates[DAY] asking ``fake``; the key from the environment."""
    monkeypatch.setenv("XAI_API_KEY", srv.KEY)

    def materialize(stream: bool, **overrides: Any) -> Run:
        values: dict[str, Any] = {
            "kind": "xai",
            "model": srv.MODEL,
            "base_url": fake.base_url,
            "timeout_s": 5.0,
            "max_attempts": 4,
            "stream": stream,
        }
        return _materialize(s3, bucket, SelectorResource(**{**values, **overrides}))

    return materialize


def _materialize(s3: LoopbackS3, bucket: str, selector: SelectorResource) -> Run:
    with DagsterInstance.ephemeral() as instance:
        result = run_quietly(
            defs,
            None,
            assets=["grok_candidates"],
            day=DAY,
            instance=instance,
            resources={"storage": s3.storage_resource(bucket), "selector": selector},
        )
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return Run(result, logs)


def written(store: S3Store) -> set[str]:
    return {info.key for info in store.list() if not info.key.startswith(layout.PROBE_DIR)}


def assert_nothing_written(store: S3Store) -> None:
    assert written(store) == set()


def candidates(store: S3Store) -> list[dict[str, Any]]:
    table = read_parquet(store, layout.candidates_key(DAY), CANDIDATE_SCHEMA)
    return table.to_pylist()


def evidence_file(store: S3Store) -> dict[str, Any]:
    data, _ = store.get_bytes(layout.answer_key(DAY))
    return json.loads(data)


def said(run: Run, *fragments: str) -> str:
    """The failure message, having checked it names the model and each fragment."""
    message = run.failure
    assert srv.MODEL in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert srv.KEY not in message and srv.KEY not in "\n".join(run.logs)
    return message


# -- answers that are written -------------------------------------------------------------


def test_a_grounded_answer_is_written_with_its_evidence(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [grounded_answer()]

    run = live(stream)

    assert run.result.success
    assert written(store) == {layout.candidates_key(DAY), layout.answer_key(DAY)}
    (request,) = fake.requests
    x_search, web_search = request["body"]["tools"]
    # The window follows from DAY alone: nothing posted on DAY or later.
    assert x_search == {"type": "x_search", "from_date": D1, "to_date": D2}
    assert web_search == {"type": "web_search"}
    prompt = request["body"]["input"][0]["content"]
    assert f"23:00 JST on {D2}" in prompt and DAY.isoformat() in prompt

    rows = candidates(store)
    assert sorted(r["code"] for r in rows) == sorted(CODES[:12])
    assert [r["grok_rank"] for r in rows] == list(range(1, 13))
    scores = [r["selection_score"] for r in rows]
    assert scores == sorted(scores, reverse=True) and all(10 <= s <= 180 for s in scores)
    assert {r["model"] for r in rows} == {srv.SERVED_MODEL}
    response_id = fake_response_id(1)
    assert {r["response_id"] for r in rows} == {response_id}
    first = next(r for r in rows if r["code"] == CODES[0])
    # The evidence the search cited, as the model quoted it.
    assert first["evidence_urls"] == [
        f"https://twitter.com/trader_0/status/{post_id(0)}?s=20&t=abc",
        "http://KABUTAN.jp/stock/?utm_source=x&code=7203",
    ]

    document = evidence_file(store)
    assert document["trading_date"] == DAY.isoformat() and document["source"] == "xai"
    asked = document["asked"]
    assert asked["model"] == srv.MODEL and asked["prompt_version"] == PROMPT_VERSION
    assert asked["tools"] == request["body"]["tools"] and asked["stream"] is stream
    assert asked["search_window"] == {
        "from_date": D1,
        "to_date": D2,
        "cutoff": f"{D2}T23:00:00+09:00",
    }
    assert asked["prompt"] == prompt
    assert document["model"] == srv.SERVED_MODEL
    assert document["response_id"] == response_id and document["request_id"] == "req-1"
    assert document["usage"]["searches"] == {"x_search": 2, "web_search": 1}
    ticks = document["response"]["usage"]["cost_in_usd_ticks"]
    assert document["usage"]["cost_usd"] == ticks / 1e10
    assert document["citations"][:2] == [f"https://x.com/i/status/{post_id(0)}", KABUTAN_CITED]
    assert document["grounding"]["checked"] is True
    assert len(document["grounding"]["grounded"]) == 12 and document["grounding"]["dropped"] == []
    assert document["response"]["output"][-1]["type"] == "message"  # the whole body

    metadata = run.metadata
    assert metadata["cost_usd"] == pytest.approx(ticks / 1e10)
    assert isinstance(metadata["cost_usd"], float)
    assert (metadata["x_search_calls"], metadata["web_search_calls"]) == (2, 1)
    assert metadata["citations"] == len(document["citations"]) == 13
    assert (metadata["grounded_picks"], metadata["dropped_picks"]) == (12, 0)
    assert metadata["model"] == srv.SERVED_MODEL and metadata["request_id"] == "req-1"


def fake_response_id(number: int) -> str:
    return srv.response_body(srv.Answer("{}"), number=number)["id"]


def test_x_search_as_custom_tool_calls(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [srv.x_search_as_custom_tool(day_picks()[0])]

    run = live(stream)

    assert run.result.success
    assert len(candidates(store)) == 12
    kinds = [item["type"] for item in evidence_file(store)["response"]["output"]]
    assert kinds.count("custom_tool_call") == 2 and "x_search_call" not in kinds
    assert run.metadata["x_search_calls"] == 2


def test_a_pick_with_evidence_outside_the_citations_is_dropped(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [grounded_answer(uncited=1)]

    run = live(stream)

    assert run.result.success
    rows = candidates(store)
    assert len(rows) == 11 and CODES[11] not in {r["code"] for r in rows}
    assert [r["grok_rank"] for r in rows] == list(range(1, 12))
    reason = (
        f"{CODES[11]} 銘柄{CODES[11]}: none of its 1 evidence URL(s) is among the 12 cited "
        f"source(s): https://example.com/rumour/{CODES[11]}"
    )
    assert f"dropped {reason}" in run.logs
    assert evidence_file(store)["grounding"]["dropped"] == [{"code": CODES[11], "reason": reason}]
    assert (run.metadata["grounded_picks"], run.metadata["dropped_picks"]) == (11, 1)


# -- answers that are refused: nothing written ---------------------------------------------


def test_an_answer_with_no_search_at_all(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [srv.no_search(day_picks()[0])]

    run = live(stream)

    assert not run.result.success
    said(run, "no live search ran", "request id req-1", "HTTP 200", "Nothing was written")
    assert_nothing_written(store)
    assert len(fake.requests) == 1  # an answer is never asked for again


def test_fewer_than_ten_grounded_picks(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [grounded_answer(uncited=3)]

    run = live(stream)

    assert not run.result.success
    said(run, "only 9 of 12 picks are grounded", "at least 10 needed", "request id req-1")
    assert "Nothing was written" in run.failure
    for code in CODES[9:12]:
        assert any(line.startswith(f"dropped {code} ") for line in run.logs), run.logs
    assert_nothing_written(store)
    assert len(fake.requests) == 1


def test_output_text_that_is_not_json_despite_the_schema(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [srv.not_json(), grounded_answer()]

    run = live(stream)

    assert not run.result.success
    said(run, "is not valid JSON", "despite the strict schema", srv.NOT_JSON_TEXT, "req-1")
    assert "Nothing was written" in run.failure
    assert_nothing_written(store)
    assert len(fake.requests) == 1


def test_an_invalid_answer_fails_without_retries(
    s3: LoopbackS3, bucket: str, store: S3Store, fake: srv.FakeResponses, monkeypatch: Any
) -> None:
    # Dagster's own retries (a RetryPolicy, run retries) must not ask again either.
    monkeypatch.setenv("XAI_API_KEY", srv.KEY)
    fake.script = [srv.not_json()]
    selector = SelectorResource(kind="xai", model=srv.MODEL, base_url=fake.base_url)
    context = build_asset_context(partition_key=DAY.isoformat())
    with pytest.raises(Failure) as info:
        grok_candidates(context, storage=s3.storage_resource(bucket), selector=selector)
    assert info.value.allow_retries is False
    assert "is not valid JSON" in str(info.value.description)
    assert_nothing_written(store)


# -- failures of the call -------------------------------------------------------------------


def test_410(live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.gone_410()]

    run = live(stream)

    said(run, "the feature or endpoint is gone", "HTTP 410", "request id req-1")
    assert_nothing_written(store)
    assert len(fake.requests) == 1


def test_429_then_success(live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.rate_limited(retry_after="1"), grounded_answer()]
    started = time.monotonic()

    run = live(stream)

    assert run.result.success and time.monotonic() - started >= 1.0  # Retry-After honoured
    assert len(fake.requests) == 2
    assert len(candidates(store)) == 12
    document = evidence_file(store)
    assert document["request_id"] == "req-2" and document["attempts"] == 2


def test_403_about_credits(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [srv.credits_403(), grounded_answer()]

    run = live(stream)

    said(run, "not retried", "credits", "spending limit", "HTTP 403", "request id req-1")
    assert_nothing_written(store)
    assert len(fake.requests) == 1


def test_500_then_success(live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.server_error({"retry-after-ms": "10"}), grounded_answer()]

    run = live(stream)

    assert run.result.success
    assert len(fake.requests) == 2 and len(candidates(store)) == 12
    assert evidence_file(store)["request_id"] == "req-2"


def test_500_twice(live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool) -> None:
    fake.script = [srv.server_error({"retry-after-ms": "10"})]

    run = live(stream)

    message = said(run, "HTTP 500", "request id req-2", "retried once already")
    assert "upstream agent failed for key ***" in message  # the echoed key, redacted
    assert_nothing_written(store)
    assert len(fake.requests) == 2


def test_a_response_slower_than_the_timeout(
    live: Any, store: S3Store, fake: srv.FakeResponses, stream: bool
) -> None:
    fake.script = [srv.Hang()]

    run = live(stream, timeout_s=0.5)

    said(run, "timed out", "no HTTP status", "2 attempts")
    assert_nothing_written(store)
    assert len(fake.requests) == 2


def test_x_handles_reach_the_request(live: Any, fake: srv.FakeResponses) -> None:
    fake.script = [grounded_answer()]

    assert live(True, x_handles=["@nikkei", "kabutan_jp"]).result.success

    (x_search, _) = fake.requests[0]["body"]["tools"]
    assert x_search["allowed_x_handles"] == ["nikkei", "kabutan_jp"]


# -- re-runs ----------------------------------------------------------------------------------


def test_a_rerun_asks_nothing_and_keeps_both_files(
    live: Any, store: S3Store, fake: srv.FakeResponses
) -> None:
    fake.script = [grounded_answer()]
    assert live(True).result.success
    before = {key: store.head(key) for key in written(store)}

    run = live(True)

    assert run.result.success and len(fake.requests) == 1
    assert {k: store.head(k) for k in written(store)} == before
    assert run.metadata["written"] is False and run.metadata["grounded_picks"] == 12


def test_evidence_without_candidates_is_completed_from_the_evidence(
    live: Any, store: S3Store, fake: srv.FakeResponses
) -> None:
    # A run stopped between its two writes: the stored answer is used, not a new one.
    fake.script = [grounded_answer()]
    assert live(True).result.success
    original = candidates(store)
    store.delete(layout.candidates_key(DAY))

    run = live(True)

    assert run.result.success and len(fake.requests) == 1
    assert candidates(store) == original
    assert any("rebuilt from the stored evidence" in line for line in run.logs)


# -- replay -----------------------------------------------------------------------------------


def replay(s3: LoopbackS3, bucket: str, store: S3Store, recorded: object) -> Run:
    text = recorded if isinstance(recorded, str) else json.dumps(recorded, ensure_ascii=False)
    store.put_bytes(layout.replay_answer_key(DAY), text.encode())
    return _materialize(s3, bucket, SelectorResource(kind="replay"))


def test_a_recorded_response_is_grounded_like_a_live_one(
    s3: LoopbackS3, bucket: str, store: S3Store
) -> None:
    run = replay(s3, bucket, store, srv.response_body(grounded_answer(uncited=1)))

    assert run.result.success
    rows = candidates(store)
    assert len(rows) == 11 and {r["model"] for r in rows} == {srv.SERVED_MODEL}
    document = evidence_file(store)
    assert document["source"] == "replay" and document["grounding"]["checked"] is True
    assert document["replay_uri"] == store.uri(layout.replay_answer_key(DAY))
    assert run.metadata["source"] == "replay" and run.metadata["dropped_picks"] == 1


def test_a_recorded_response_without_search_is_refused(
    s3: LoopbackS3, bucket: str, store: S3Store
) -> None:
    run = replay(s3, bucket, store, srv.response_body(srv.no_search(day_picks()[0])))

    assert not run.result.success
    assert "no live search ran" in run.failure
    assert store.uri(layout.replay_answer_key(DAY)) in run.failure
    assert written(store) == {layout.replay_answer_key(DAY)}


def previous_pipeline_answer() -> list[dict[str, Any]]:
    """An answer as the previous pipeline recorded it (UPSTREAM.md, "The Grok call")."""
    return [
        {
            "ticker_symbol": code,
            "company_name": f"会社{code}",
            "reason": "防衛関連の受注報道",
            "category": "防衛",
            "sentiment_score": 0.8,
            "policy_link": "High",
            "has_mention": True,
            "mentioned_by": ["@kabutan_jp"],
        }
        for code in CODES[:10]
    ]


def test_a_recorded_bare_array_is_marked_replay_and_claims_no_grounding(
    s3: LoopbackS3, bucket: str, store: S3Store
) -> None:
    run = replay(s3, bucket, store, previous_pipeline_answer())

    assert run.result.success
    rows = candidates(store)
    assert [r["code"] for r in rows] == list(CODES[:10])
    assert rows[0]["stock_name"] == f"会社{CODES[0]}" and rows[0]["ticker"] == f"{CODES[0]}.T"
    assert rows[0]["selection_score"] == 160.0  # 0.8*100 + 30 + 50
    assert {r["model"] for r in rows} == {"replay"}
    assert {r["response_id"] for r in rows} == {None}
    assert all(r["evidence_urls"] == [] for r in rows)
    document = evidence_file(store)
    assert document["source"] == "replay" and document["model"] == "replay"
    assert document["grounding"] == {"checked": False, "grounded": None, "dropped": None}
    assert json.loads(document["answer_text"]) == previous_pipeline_answer()
    metadata = run.metadata
    assert metadata["source"] == "replay" and metadata["grounding_checked"] is False
    assert "grounded_picks" not in metadata and "cost_usd" not in metadata
