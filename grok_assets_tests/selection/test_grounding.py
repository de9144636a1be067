"""The grounding rule over recorded Responses bodies (selection/grounding.py)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from grok_assets.selection import grounding
from grok_assets.selection.answer import validate_picks
from grok_assets.selection.grounding import GroundingError
from grok_assets.selection.picks import Pick
from grok_assets_tests.support import responses_server as srv
from grok_assets_tests.support.picks import CODES, KABUTAN_CITED, day_picks, post_id


def picks_of(count: int = 12, uncited: int = 0) -> tuple[list[Pick], list[str]]:
    items, citations = day_picks(count, uncited=uncited)
    return validate_picks(items, source="test"), citations


def body_of(answer: srv.Answer) -> dict[str, object]:
    return srv.response_body(answer)


def test_a_grounded_response() -> None:
    picks, citations = picks_of()
    body = body_of(srv.grounded(day_picks()[0], citations))
    report = grounding.ground(body, picks, source="xai")
    assert [g.pick.code for g in report.grounded] == list(CODES[:12]) and not report.dropped
    first = report.grounded[0]
    # Quoted as twitter.com/<handle>/status/ID?s=20 and http://KABUTAN.jp/...?utm_source,
    # cited as x.com/i/status/ID and https://kabutan.jp/...: the same pages.
    assert len(first.cited_urls) == 2 and not first.uncited_urls
    assert report.citations[:2] == (f"https://x.com/i/status/{post_id(0)}", KABUTAN_CITED)
    assert report.usage.per_tool() == {"x_search": 2, "web_search": 1}


def test_search_usage_counts_custom_tool_calls_without_usage_details() -> None:
    answer = dataclasses.replace(
        srv.x_search_as_custom_tool(day_picks()[0]), web_calls=0, usage_details=False
    )
    usage = grounding.search_usage(body_of(answer))
    assert usage.ran and usage.tools_used == 0 and usage.billed == {}
    assert usage.per_tool() == {"x_search": 2, "web_search": 0}


def test_billing_is_preferred_to_items() -> None:
    body = body_of(srv.grounded(day_picks()[0]))
    body["usage"]["server_side_tool_usage_details"]["x_search_calls"] = 5  # type: ignore[index]
    assert grounding.search_usage(body).count("x_search") == 5


@pytest.mark.parametrize(
    "answer",
    [
        srv.no_search(day_picks()[0]),
        # Searched, but cites nothing: nothing to check any evidence against.
        srv.grounded(day_picks()[0], citations=[]),
    ],
    ids=["no-search", "no-citations"],
)
def test_no_live_search(answer: srv.Answer) -> None:
    picks, _ = picks_of()
    with pytest.raises(GroundingError, match="xai: no live search ran") as info:
        grounding.ground(body_of(answer), picks, source="xai")
    assert "not on tonight's posts and news" in str(info.value)


def test_a_response_searched_only_by_usage_counts() -> None:
    # No tool-call items (a body that leaves them out), but billed searches: it ran.
    body = body_of(srv.grounded(day_picks()[0]))
    body["output"] = [item for item in body["output"] if item["type"] == "message"]  # type: ignore[index, union-attr]
    assert grounding.search_usage(body).ran


def test_a_pick_with_uncited_evidence_is_dropped_with_the_reason() -> None:
    picks, citations = picks_of(uncited=1)
    report = grounding.ground(body_of(srv.Answer("{}", tuple(citations))), picks, source="xai")
    (dropped,) = report.dropped
    assert dropped.pick.code == CODES[11] and len(report.grounded) == 11
    assert dropped.reason == (
        f"{CODES[11]} 銘柄{CODES[11]}: none of its 1 evidence URL(s) is among the 12 cited "
        f"source(s): https://example.com/rumour/{CODES[11]}"
    )


def test_fewer_than_ten_grounded_picks_fail() -> None:
    picks, citations = picks_of(uncited=3)
    with pytest.raises(GroundingError) as info:
        grounding.ground(body_of(srv.Answer("{}", tuple(citations))), picks, source="xai")
    message = str(info.value)
    assert "only 9 of 12 picks are grounded" in message and "at least 10 needed" in message
    assert f"https://example.com/rumour/{CODES[9]}" in message
    assert [d.pick.code for d in info.value.dropped] == list(CODES[9:12])


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/someone/status/1751387205191270735",
        "https://twitter.com/SomeOne/status/1751387205191270735?s=20&t=xyz",
        "https://mobile.twitter.com/someone/status/1751387205191270735/photo/1",
        "https://www.x.com/i/web/status/1751387205191270735",
        "https://x.com/i/status/1751387205191270735/",
        "x.com/someone/statuses/1751387205191270735",
    ],
)
def test_x_posts_compare_by_status_id(url: str) -> None:
    assert grounding.x_status_id(url) == "1751387205191270735"
    assert grounding.normalise_url(url) == "x.com/i/status/1751387205191270735"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("https://Kabutan.JP/stock/?code=7203", "http://www.kabutan.jp/stock?code=7203"),
        ("https://nikkei.com/a/?utm_source=x&utm_medium=y&id=1", "https://nikkei.com/a?id=1"),
        ("https://nikkei.com/a?b=2&a=1#top", "https://nikkei.com/a?a=1&b=2"),
        ("https://nikkei.com:443/a?fbclid=abc", "https://nikkei.com/a"),
        ("https://twitter.com/Kabutan_JP", "https://x.com/kabutan_jp/"),
    ],
)
def test_same_page_urls_normalise_equal(left: str, right: str) -> None:
    assert grounding.normalise_url(left) == grounding.normalise_url(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("https://x.com/a/status/1", "https://x.com/a/status/2"),
        ("https://kabutan.jp/stock/?code=7203", "https://kabutan.jp/stock/?code=6758"),
        ("https://nikkei.com/Article", "https://nikkei.com/article"),
        ("https://example.com/x.com/a/status/1", "https://x.com/a/status/1"),
        ("https://nikkei.com:8443/a", "https://nikkei.com/a"),
    ],
)
def test_different_pages_stay_different(left: str, right: str) -> None:
    assert grounding.normalise_url(left) != grounding.normalise_url(right)


def test_citations_are_deduplicated_by_page() -> None:
    cited = [KABUTAN_CITED, "http://www.kabutan.jp/stock?code=7203", "https://x.com/i/status/9"]
    assert grounding.citation_urls(body_of(srv.Answer("{}", tuple(cited)))) == [
        KABUTAN_CITED,
        "https://x.com/i/status/9",
    ]


def test_cost_from_ticks() -> None:
    assert grounding.cost_usd({"usage": {"cost_in_usd_ticks": 37_756_000}}) == Decimal("0.0037756")
    assert grounding.cost_usd({"usage": {}}) is None
    assert grounding.cost_usd({}) is None
    assert grounding.cost_usd({"usage": {"cost_in_usd_ticks": True}}) is None
