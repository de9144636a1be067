"""Structured answers for the tests: picks whose evidence the search did or did not cite."""

from __future__ import annotations

from typing import Any

from grok_assets_tests.support import responses_server as srv

CODES = ("7203", "6758", "8035", "130A", "6501", "7011", "9984", "6857", "4063", "8306")
CODES += ("285A", "6920", "7974", "6098", "4502")
# A page the search found besides the posts, cited and quoted in another spelling.
KABUTAN_CITED = "https://kabutan.jp/stock/?code=7203"
KABUTAN_QUOTED = "http://KABUTAN.jp/stock/?utm_source=x&code=7203"


def post_id(index: int) -> str:
    return f"17513872051912707{index:02d}"


def pick(index: int, evidence: list[str]) -> dict[str, Any]:
    code = CODES[index]
    return {
        "code": code,
        "stock_name": f"銘柄{code}",
        "reason": "決算で上方修正を発表し、寄り付きから買いが集まりやすい。",
        "category": "決算",
        "sentiment_score": round(0.5 + index / 40, 3),
        "policy_link": ("High", "Med", "Low")[index % 3],
        "has_mention": index % 2 == 0,
        "mentioned_by": ["@kabutan_jp"] if index % 2 == 0 else [],
        "evidence_urls": evidence,
    }


def day_picks(count: int = 12, *, uncited: int = 0) -> tuple[list[dict[str, Any]], list[str]]:
    """``count`` picks and the citations of a search that found the evidence of all but
    the last ``uncited`` of them.

    Evidence is quoted as a model tends to quote it (the post under the author's handle
    on twitter.com with share parameters, the page over http with tracking
    parameters) while the citations list it as xAI does (https://x.com/i/status/ID).
    """
    picks: list[dict[str, Any]] = []
    citations: list[str] = []
    for index in range(count):
        if index >= count - uncited:
            picks.append(pick(index, [f"https://example.com/rumour/{CODES[index]}"]))
            continue
        evidence = [f"https://twitter.com/trader_{index}/status/{post_id(index)}?s=20&t=abc"]
        citations.append(f"https://x.com/i/status/{post_id(index)}")
        if index == 0:
            evidence.append(KABUTAN_QUOTED)
            citations.append(KABUTAN_CITED)
        picks.append(pick(index, evidence))
    return picks, citations


def grounded_answer(count: int = 12, *, uncited: int = 0, **overrides: Any) -> srv.Answer:
    picks, citations = day_picks(count, uncited=uncited)
    return srv.grounded(picks, citations, **overrides)
