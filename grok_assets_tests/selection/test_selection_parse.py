"""Validation and scoring of the model's picks (selection/answer.py, selection/picks.py)."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from grok_assets.layout import replay_answer_key
from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.selection.answer import (
    ModelAnswerError,
    candidates_table,
    decode_structured_answer,
    parse_recorded_array,
    validate_picks,
)
from grok_assets.selection.picks import (
    MAX_PICKS,
    MIN_PICKS,
    SCHEMA_NAME,
    Pick,
    answer_schema,
    field_names,
    pick_schema,
    text_format,
)
from grok_assets.selection.prompt import NO_HISTORY, PROMPT_VERSION, PromptContext, build_prompt
from grok_assets.trading_calendar import parse_date

DATE = "2025-06-02"
SOURCE = "xai model grok-test"


def make_items(n: int = 10) -> list[dict[str, Any]]:
    return [
        {
            "code": str(7000 + i),
            "stock_name": f"銘柄{i}",
            "reason": f"reason {i}",
            "category": "決算",
            "sentiment_score": 0.5,
            "policy_link": "Low",
            "has_mention": False,
            "mentioned_by": [],
            "evidence_urls": [f"https://x.com/i/status/{1800000000000000000 + i}"],
        }
        for i in range(n)
    ]


def structured(items: Any) -> str:
    return json.dumps({"picks": items}, ensure_ascii=False)


def parse(text: str) -> list[Pick]:
    return validate_picks(decode_structured_answer(text, source=SOURCE), source=SOURCE)


def table_of(picks: list[Pick]) -> Any:
    return candidates_table(
        picks, trading_date=DATE, model="grok-test", prompt_version="v3", response_id="resp-1"
    )


def rejects(items: Any, *fragments: str) -> str:
    with pytest.raises(ModelAnswerError) as info:
        parse(structured(items))
    message = str(info.value)
    assert SOURCE in message
    for fragment in fragments:
        assert fragment in message
    return message


# -- the one definition and its schema ----------------------------------------------------


def test_schema_is_strict_and_has_every_field() -> None:
    schema = answer_schema()
    picks = schema["properties"]["picks"]
    assert (picks["minItems"], picks["maxItems"]) == (MIN_PICKS, MAX_PICKS) == (10, 15)
    item = pick_schema()
    names = [field.name for field in dataclasses.fields(Pick)]
    assert item["required"] == names == list(item["properties"])
    assert names == [
        "code", "stock_name", "reason", "category", "sentiment_score", "policy_link",
        "has_mention", "mentioned_by", "evidence_urls",
    ]  # fmt: skip
    assert item["additionalProperties"] is False and schema["additionalProperties"] is False
    props = item["properties"]
    assert (props["sentiment_score"]["minimum"], props["sentiment_score"]["maximum"]) == (0, 1)
    assert props["policy_link"]["enum"] == ["High", "Med", "Low"]
    assert props["has_mention"]["type"] == "boolean"
    assert props["mentioned_by"]["items"]["type"] == "string"
    urls = props["evidence_urls"]
    assert (urls["type"], urls["minItems"], urls["maxItems"]) == ("array", 1, 5)
    assert urls["items"]["format"] == "uri"
    assert "^" not in props["code"]["pattern"]  # xAI anchors patterns implicitly
    assert text_format() == {
        "type": "json_schema",
        "name": SCHEMA_NAME,
        "schema": schema,
        "strict": True,
    }


@pytest.mark.parametrize("name", field_names())
def test_validation_knows_every_field_of_the_definition(name: str) -> None:
    items = make_items()
    del items[6][name]
    rejects(items, f"item 7 lacks {name}", "銘柄6" if name != "stock_name" else "reason 6")


# -- structured answers ------------------------------------------------------------------


def test_structured_answer() -> None:
    picks = parse(structured(make_items()))
    assert [p.code for p in picks] == [str(7000 + i) for i in range(10)]
    assert picks[0].evidence_urls == ("https://x.com/i/status/1800000000000000000",)
    table = table_of(picks)
    assert table.schema.equals(CANDIDATE_SCHEMA, check_metadata=True)
    assert table.num_rows == 10


@pytest.mark.parametrize(
    "text",
    [
        "```json\n" + structured(make_items()) + "\n```",
        "Here are my picks: " + structured(make_items()),
        structured(make_items())[:-20],
    ],
    ids=["fenced", "prose", "truncated"],
)
def test_structured_answer_must_be_json_as_it_stands(text: str) -> None:
    # The schema was strict: nothing is searched for or repaired.
    with pytest.raises(ModelAnswerError, match="is not valid JSON") as info:
        parse(text)
    assert SOURCE in str(info.value) and "despite the strict schema" in str(info.value)
    assert " ".join(text.split())[:12] in str(info.value)  # quoted


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "output_text is empty"),
        (json.dumps(make_items()), 'not an object {"picks": [...]}'),
        (json.dumps({"candidates": make_items()}), 'not an object {"picks": [...]}'),
    ],
)
def test_structured_answer_shape(text: str, complaint: str) -> None:
    with pytest.raises(ModelAnswerError, match=complaint.replace("[", r"\[").replace("{", r"\{")):
        parse(text)


@pytest.mark.parametrize("n", [9, 16])
def test_wrong_count(n: int) -> None:
    rejects(make_items(n), f"{n} items", "10-15")


def test_duplicate_codes() -> None:
    items = make_items()
    items[4]["code"] = "7000.T"
    rejects(items, "item 5 repeats code 7000 of item 1", "銘柄4")


@pytest.mark.parametrize("code", ["720", "72031", "ABCD", 72.5, None, True])
def test_bad_code(code: object) -> None:
    items = make_items()
    items[2]["code"] = code
    rejects(items, "item 3 has code", "銘柄2")


@pytest.mark.parametrize("value", [1.2, -0.1, "0.8", True, float("nan")])
def test_bad_sentiment(value: object) -> None:
    items = make_items()
    items[0]["sentiment_score"] = value
    rejects(items, "item 1 has sentiment_score", "銘柄0")


def test_bad_policy_link() -> None:
    items = make_items()
    items[1]["policy_link"] = "Medium"
    rejects(items, "item 2 has policy_link 'Medium'", "High, Med, Low")


def test_non_object_item() -> None:
    items: list[Any] = make_items()
    items[3] = "7203"
    rejects(items, "item 4 is not an object")


def test_has_mention_must_be_bool() -> None:
    items = make_items()
    items[0]["has_mention"] = "yes"
    rejects(items, "item 1 has has_mention 'yes'")


@pytest.mark.parametrize(
    ("evidence", "complaint"),
    [
        ([], "has 0 evidence_urls, expected 1-5"),
        ([f"https://x.com/i/status/{n}" for n in range(6)], "has 6 evidence_urls"),
        (["not a url"], "expected an absolute http(s) URL"),
        (["ftp://example.com/a"], "expected an absolute http(s) URL"),
        ("https://x.com/i/status/1", "expected a list of URLs"),
    ],
)
def test_structured_picks_need_evidence(evidence: object, complaint: str) -> None:
    items = make_items()
    items[8]["evidence_urls"] = evidence
    rejects(items, f"item 9 {complaint}" if "has" in complaint else complaint, "銘柄8")


def test_structured_mentioned_by_are_x_handles() -> None:
    items = make_items()
    items[2]["mentioned_by"] = ["日経新聞"]
    rejects(items, "item 3 has mentioned_by '日経新聞', which is not an X handle")
    items[2]["mentioned_by"] = "@kabutan_jp"
    rejects(items, "item 3 has mentioned_by '@kabutan_jp', expected a list of X handles")


def test_code_forms() -> None:
    items = make_items()
    items[0].update(code=7203, mentioned_by=["@a", " @b "], has_mention=True)
    items[1].update(code="6758.T")
    items[2].update(code="130a")
    items[3].update(policy_link="high")
    rows = {r["code"]: r for r in table_of(parse(structured(items))).to_pylist()}
    assert rows["7203"]["ticker"] == "7203.T"
    assert rows["7203"]["mentioned_by"] == "@a, @b"
    assert "6758" in rows and rows["130A"]["ticker"] == "130A.T"
    assert rows["7003"]["policy_link"] == "High"
    assert rows["7004"]["mentioned_by"] == ""


def test_input_not_mutated_and_bad_date() -> None:
    items = make_items()
    before = copy.deepcopy(items)
    picks = parse(structured(items))
    assert items == before
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        candidates_table(
            picks, trading_date="20250602", model="m", prompt_version="v3", response_id=None
        )


# -- scoring -------------------------------------------------------------------------------


def test_score_formula_and_rank() -> None:
    items = make_items()
    # score = sentiment*100 + {High: 30, Med: 20, Low: 10} + (50 if has_mention)
    items[0].update(sentiment_score=0.5, policy_link="Low")  # 60
    items[1].update(sentiment_score=0.9, policy_link="High", has_mention=True)  # 170
    items[2].update(sentiment_score=0.7, policy_link="Med")  # 90
    items[3].update(sentiment_score=1.0, policy_link="High", has_mention=True)  # 180
    items[4].update(sentiment_score=0.2, policy_link="Med", has_mention=True)  # 90
    items[5].update(sentiment_score=0.0, policy_link="Low")  # 10
    # items 6-9 keep 60 and tie with item 0; model order breaks every tie (2 before 4).
    rows = table_of(parse(structured(items))).to_pylist()
    assert [r["grok_rank"] for r in rows] == list(range(1, 11))
    assert [r["code"] for r in rows] == [
        "7003", "7001", "7002", "7004", "7000", "7006", "7007", "7008", "7009", "7005"
    ]  # fmt: skip
    assert [r["selection_score"] for r in rows] == [
        180.0, 170.0, 90.0, 90.0, 60.0, 60.0, 60.0, 60.0, 60.0, 10.0
    ]  # fmt: skip
    assert rows[0] == {
        "date": DATE,
        "ticker": "7003.T",
        "code": "7003",
        "stock_name": "銘柄3",
        "reason": "reason 3",
        "category": "決算",
        "sentiment_score": 1.0,
        "policy_link": "High",
        "has_mention": True,
        "mentioned_by": "",
        "selection_score": 180.0,
        "grok_rank": 1,
        "selected_time": "23:00",
        "prompt_version": "v3",
        "model": "grok-test",
        "response_id": "resp-1",
        "evidence_urls": ["https://x.com/i/status/1800000000000000003"],
    }


def test_table_keeps_the_cited_evidence_it_is_given() -> None:
    picks = parse(structured(make_items()))
    table = candidates_table(
        picks,
        trading_date=DATE,
        model="m",
        prompt_version="v3",
        response_id="r",
        evidence_urls={"7000": ["https://kabutan.jp/news/1"]},
    )
    by_code = {r["code"]: r["evidence_urls"] for r in table.to_pylist()}
    assert by_code["7000"] == ["https://kabutan.jp/news/1"]
    assert by_code["7001"] == ["https://x.com/i/status/1800000000000000001"]


# -- recorded bare arrays ------------------------------------------------------------------


def previous_pipeline_items(n: int = 10) -> list[dict[str, Any]]:
    """The previous pipeline's recorded answers, as UPSTREAM.md describes them."""
    return [
        {
            "ticker_symbol": str(6500 + i),
            "company_name": f"会社{i}",
            "reason": f"理由{i}",
            "category": "" if i == 3 else "材料株",
            "sentiment_score": 0.6,
            "policy_link": "High",
            "has_mention": i % 2 == 0,
            "mentioned_by": ["@kabutan_jp", "日経"] if i % 2 == 0 else [],
        }
        for i in range(n)
    ]


def recorded(items: Any) -> list[Pick]:
    return parse_recorded_array(json.dumps(items, ensure_ascii=False), source="s3://b/k")


def test_previous_pipeline_keys() -> None:
    picks = recorded(previous_pipeline_items())
    assert [p.code for p in picks] == [str(6500 + i) for i in range(10)]
    assert picks[0].stock_name == "会社0" and picks[0].mentioned_by == ("@kabutan_jp", "日経")
    assert picks[3].category == ""  # as that pipeline's archive holds it
    assert all(p.evidence_urls == () for p in picks)
    rows = candidates_table(
        picks, trading_date=DATE, model="replay", prompt_version="v3", response_id=None
    ).to_pylist()
    assert rows[0]["ticker"] == "6500.T" and rows[0]["selection_score"] == 140.0
    assert rows[0]["evidence_urls"] == [] and rows[0]["response_id"] is None


def test_project_keys_in_a_bare_array() -> None:
    items = make_items()
    for item in items[:5]:
        del item["evidence_urls"]
    items[5]["mentioned_by"] = "日経"
    items[6]["mentioned_by"] = None
    picks = recorded(items)
    assert picks[0].evidence_urls == ()
    assert picks[9].evidence_urls == tuple(items[9]["evidence_urls"])
    assert picks[5].mentioned_by == ("日経",) and picks[6].mentioned_by == ()


def test_a_bare_array_is_still_validated() -> None:
    items = previous_pipeline_items()
    items[2]["sentiment_score"] = 3
    with pytest.raises(ModelAnswerError, match="item 3 has sentiment_score 3") as info:
        recorded(items)
    assert "会社2" in str(info.value) and "s3://b/k" in str(info.value)
    items = previous_pipeline_items()
    items[4]["ticker_symbol"] = items[1]["ticker_symbol"]
    with pytest.raises(ModelAnswerError, match="item 5 repeats code 6501 of item 2"):
        recorded(items)


def test_fenced_and_prose_bare_arrays() -> None:
    text = "```json\n" + json.dumps(make_items(), indent=2) + "\n```"
    assert len(parse_recorded_array(text, source="s")) == 10
    # "[1]" is valid JSON, so the parser must prefer the array of objects.
    text = f"Here are my picks [1]:\n{json.dumps(make_items(11))}\nGood luck! [end]"
    assert len(parse_recorded_array(text, source="s")) == 11


def test_malformed_bare_array() -> None:
    with pytest.raises(ModelAnswerError, match="malformed JSON array"):
        parse_recorded_array(json.dumps(make_items())[:-20], source="s")


@pytest.mark.parametrize("text", ['{"candidates": []}', "", "I cannot help with that."])
def test_not_an_array(text: str) -> None:
    with pytest.raises(ModelAnswerError, match=r"no (top-level )?JSON array"):
        parse_recorded_array(text, source="s")


def test_replay_key() -> None:
    assert replay_answer_key(dt.date(2025, 6, 2)) == "grok/replay/20250602.json"
    # The key takes a date now; text becomes one only through the strict parser.
    assert replay_answer_key(parse_date("2025-06-02")) == "grok/replay/20250602.json"
    with pytest.raises(ValueError, match="2025/06/02"):
        replay_answer_key(parse_date("2025/06/02"))


def test_build_prompt() -> None:
    context = PromptContext("2025-05-30", "2025-05-30", "2025-06-03")
    text = build_prompt(DATE, context)
    assert PROMPT_VERSION == "v3"
    assert DATE in text and "2025-06-03" in text and NO_HISTORY in text
    assert "$" not in text
    with_feedback = build_prompt(DATE, PromptContext("a", "b", "c", feedback="Win rate 40%."))
    assert "Win rate 40%." in with_feedback and NO_HISTORY not in with_feedback
    assert NO_HISTORY in build_prompt(DATE)


def test_prompt_asks_for_search_citations_and_states_the_cut_off() -> None:
    # Monday 2025-06-02: the selection is made on Sunday evening, whenever it runs.
    text = build_prompt(DATE, PromptContext("2026-01-01", "2025-05-30", "2025-06-03"))
    assert "23:00 JST on 2025-06-01" in text and "2026-01-01" not in text
    assert "x_search" in text and "web_search" in text
    assert "Cite only what your searches actually returned" in text
    assert '{"picks": [...]}' in text and '"evidence_urls"' in text
