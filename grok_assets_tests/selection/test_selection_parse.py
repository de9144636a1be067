from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from grok_assets.dev.sample_data import SAMPLE_MARK, sample_answer
from grok_assets.layout import replay_answer_key
from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.selection.answer import ModelAnswerError, parse_model_answer
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
        }
        for i in range(n)
    ]


def parse(text: str) -> Any:
    return parse_model_answer(
        text, trading_date=DATE, model="grok-test", prompt_version="v1", source=SOURCE
    )


def rejects(items: Any, *fragments: str) -> str:
    with pytest.raises(ModelAnswerError) as info:
        parse(json.dumps(items, ensure_ascii=False))
    message = str(info.value)
    assert SOURCE in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_bare_array() -> None:
    table = parse(json.dumps(make_items()))
    assert table.num_rows == 10
    assert table.schema == CANDIDATE_SCHEMA


def test_fenced_block() -> None:
    text = "```json\n" + json.dumps(make_items(), indent=2) + "\n```"
    assert parse(text).num_rows == 10


def test_prose_around_array() -> None:
    # "[1]" is valid JSON, so the parser must prefer the array of objects.
    text = f"Here are my picks [1]:\n{json.dumps(make_items(11))}\nGood luck! [end]"
    assert parse(text).num_rows == 11


def test_malformed_json() -> None:
    text = json.dumps(make_items())[:-20]
    with pytest.raises(ModelAnswerError, match="malformed JSON array") as info:
        parse(text)
    assert SOURCE in str(info.value)


@pytest.mark.parametrize("text", ['{"candidates": []}', "", "I cannot help with that."])
def test_not_an_array(text: str) -> None:
    with pytest.raises(ModelAnswerError, match=r"no (top-level )?JSON array"):
        parse(text)


def test_wrapped_array_is_not_unwrapped() -> None:
    with pytest.raises(ModelAnswerError, match="JSON object but no top-level"):
        parse(json.dumps({"candidates": make_items()}))


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


@pytest.mark.parametrize("value", [1.2, -0.1, "0.8", True])
def test_bad_sentiment(value: object) -> None:
    items = make_items()
    items[0]["sentiment_score"] = value
    rejects(items, "item 1 has sentiment_score", "銘柄0")


def test_bad_policy_link() -> None:
    items = make_items()
    items[1]["policy_link"] = "Medium"
    rejects(items, "item 2 has policy_link 'Medium'", "High, Med, Low")


def test_missing_field() -> None:
    items = make_items()
    del items[6]["reason"]
    rejects(items, "item 7 lacks reason", "銘柄6")


def test_non_object_item() -> None:
    items: list[Any] = make_items()
    items[3] = "7203"
    rejects(items, "item 4 is not an object")


def test_has_mention_must_be_bool() -> None:
    items = make_items()
    items[0]["has_mention"] = "yes"
    rejects(items, "item 1 has has_mention 'yes'")


def test_code_forms_and_mentioned_by() -> None:
    items = make_items()
    items[0].update(code=7203, mentioned_by=["@a", " @b "], has_mention=True)
    items[1].update(code="6758.T", mentioned_by="日経")
    items[2].update(code="130a", mentioned_by=None)
    items[3].update(policy_link="high")
    rows = {r["code"]: r for r in parse(json.dumps(items)).to_pylist()}
    assert rows["7203"]["ticker"] == "7203.T"
    assert rows["7203"]["mentioned_by"] == "@a, @b"
    assert rows["6758"]["mentioned_by"] == "日経"
    assert rows["130A"]["mentioned_by"] == ""
    assert rows["7003"]["policy_link"] == "High"
    assert rows["7004"]["mentioned_by"] == ""


def test_score_formula_and_rank() -> None:
    items = make_items()
    # score = 0.6*sentiment + {High:0.3, Med:0.15, Low:0} + 0.1*has_mention
    items[0].update(sentiment_score=0.5, policy_link="Low")  # 0.30
    items[1].update(sentiment_score=0.9, policy_link="High", has_mention=True)  # 0.94
    items[2].update(sentiment_score=0.7, policy_link="Med")  # 0.57
    items[3].update(sentiment_score=1.0, policy_link="High", has_mention=True)  # 1.00
    items[4].update(sentiment_score=0.2, policy_link="Med", has_mention=True)  # 0.37
    items[5].update(sentiment_score=0.0, policy_link="Low")  # 0.00
    # items 6-9 keep 0.30 and tie with item 0; model order breaks the tie.
    table = parse(json.dumps(items))
    rows = table.to_pylist()
    assert [r["grok_rank"] for r in rows] == list(range(1, 11))
    assert [r["code"] for r in rows] == [
        "7003", "7001", "7002", "7004", "7000", "7006", "7007", "7008", "7009", "7005"
    ]  # fmt: skip
    assert [r["selection_score"] for r in rows] == [
        1.0, 0.94, 0.57, 0.37, 0.3, 0.3, 0.3, 0.3, 0.3, 0.0
    ]  # fmt: skip
    first = rows[0]
    assert first == {
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
        "selection_score": 1.0,
        "grok_rank": 1,
        "selected_time": "23:00",
        "prompt_version": "v1",
        "model": "grok-test",
    }


def test_schema_equality() -> None:
    table = parse(json.dumps(make_items(15)))
    assert table.schema.equals(CANDIDATE_SCHEMA, check_metadata=True)
    assert table.num_rows == 15


def test_input_not_mutated_and_bad_date() -> None:
    items = make_items()
    before = copy.deepcopy(items)
    parse(json.dumps(items))
    assert items == before
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_model_answer(
            json.dumps(items), trading_date="20250602", model="m", prompt_version="v1", source="s"
        )


UNIVERSE = [(str(1300 + i), f"サンプル{i}") for i in range(30)]


def test_sample_answer_parses_and_is_deterministic() -> None:
    text = sample_answer(DATE, UNIVERSE)
    assert text == sample_answer(DATE, UNIVERSE)
    assert text != sample_answer(DATE, UNIVERSE, seed=1)
    assert text != sample_answer("2025-06-03", UNIVERSE)
    table = parse_model_answer(
        text, trading_date=DATE, model="replay", prompt_version="v1", source="s3://b/k"
    )
    assert table.num_rows == 12
    assert all(SAMPLE_MARK in r for r in table.column("reason").to_pylist())
    with pytest.raises(ValueError, match="at least 12"):
        sample_answer(DATE, UNIVERSE[:11])


def test_replay_key() -> None:
    assert replay_answer_key(dt.date(2025, 6, 2)) == "grok/replay/20250602.json"
    # The key takes a date now; text becomes one only through the strict parser.
    assert replay_answer_key(parse_date("2025-06-02")) == "grok/replay/20250602.json"
    with pytest.raises(ValueError, match="2025/06/02"):
        replay_answer_key(parse_date("2025/06/02"))


def test_build_prompt() -> None:
    context = PromptContext("2025-05-30", "2025-05-30", "2025-06-03")
    text = build_prompt(DATE, context)
    assert PROMPT_VERSION == "v2"
    assert DATE in text and "2025-06-03" in text and NO_HISTORY in text
    assert "$" not in text
    with_feedback = build_prompt(DATE, PromptContext("a", "b", "c", feedback="Win rate 40%."))
    assert "Win rate 40%." in with_feedback and NO_HISTORY not in with_feedback
    assert NO_HISTORY in build_prompt(DATE)
