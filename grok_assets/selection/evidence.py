"""The evidence file ``grok/answers/YYYYMMDD.json``: what the day's picks rest on.

One JSON document per trading day, written once (``If-None-Match: *``) together with
the candidates and only after the answer passed validation and grounding. It holds
what was asked (the model requested, the prompt and its version, the tools with the
search window), what came back (the whole response body as the API sent it, the model
it returned, the response id, the ``x-request-id``), and what was made of it (tool
usage per search tool, the citations, the grounded and dropped picks, the cost
``usage.cost_in_usd_ticks`` / 1e10 USD). A recorded bare array keeps its text and
says that no grounding was checked.

The candidates can be rebuilt from it alone: a run that finds the evidence but not the
candidates (a crash between the two writes) rebuilds them instead of paying for a new
answer that could disagree with the stored one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Final

from grok_assets.selection.grounding import (
    SEARCH_TOOLS,
    GroundingReport,
    cost_ticks,
    cost_usd,
    search_usage,
)

EVIDENCE_VERSION: Final = 1
XAI: Final = "xai"
REPLAY: Final = "replay"


class EvidenceError(ValueError):
    """A stored evidence file cannot be read back."""


def live_document(
    *,
    trading_date: str,
    asked: Mapping[str, Any],
    body: Mapping[str, Any],
    model: str,
    request_id: str | None,
    attempts: int,
) -> dict[str, Any]:
    """The document of a live answer, before grounding (see :func:`with_grounding`)."""
    return {
        "evidence_version": EVIDENCE_VERSION,
        "trading_date": trading_date,
        "source": XAI,
        "asked": dict(asked),
        "model": model,
        "response_id": body.get("id"),
        "request_id": request_id,
        "attempts": attempts,
        "response": dict(body),
    }


def recorded_body_document(
    *, trading_date: str, asked: Mapping[str, Any], replay_uri: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """A recorded Responses body replayed from the bucket: checked as a live one."""
    return {
        "evidence_version": EVIDENCE_VERSION,
        "trading_date": trading_date,
        "source": REPLAY,
        "replay_uri": replay_uri,
        "asked": dict(asked),
        "model": body.get("model"),
        "response_id": body.get("id"),
        "request_id": None,
        "attempts": 0,
        "response": dict(body),
    }


def recorded_array_document(
    *, trading_date: str, asked: Mapping[str, Any], replay_uri: str, text: str
) -> dict[str, Any]:
    """A recorded bare array: kept as its text; it makes no grounding claim."""
    return {
        "evidence_version": EVIDENCE_VERSION,
        "trading_date": trading_date,
        "source": REPLAY,
        "replay_uri": replay_uri,
        "asked": dict(asked),
        "model": REPLAY,
        "response_id": None,
        "request_id": None,
        "attempts": 0,
        "answer_text": text,
    }


def with_grounding(document: Mapping[str, Any], report: GroundingReport | None) -> dict[str, Any]:
    """``document`` with its usage, citations and grounding sections filled in."""
    body = document.get("response")
    usage = search_usage(body) if isinstance(body, Mapping) else None
    cost = cost_usd(body) if isinstance(body, Mapping) else None
    out = {key: value for key, value in document.items() if key != "response"}
    out["usage"] = {
        "server_side_tools_used": usage.tools_used if usage else None,
        "searches": usage.per_tool() if usage else None,
        "cost_in_usd_ticks": cost_ticks(body) if isinstance(body, Mapping) else None,
        "cost_usd": None if cost is None else float(cost),
    }
    if report is None:
        out["citations"] = []
        out["grounding"] = {"checked": False, "grounded": None, "dropped": None}
    else:
        out["citations"] = list(report.citations)
        out["grounding"] = {
            "checked": True,
            "grounded": [
                {"code": g.pick.code, "cited_urls": list(g.cited_urls)} for g in report.grounded
            ],
            "dropped": [{"code": d.pick.code, "reason": d.reason} for d in report.dropped],
        }
    # The body last: what a reader looks for first comes first.
    if isinstance(body, Mapping):
        out["response"] = dict(body)
    return out


def encode(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def decode(data: bytes, where: str) -> dict[str, Any]:
    problem: str | None = None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        problem = f"is not JSON ({error})"
        document = None
    if problem is None and (
        not isinstance(document, dict) or document.get("evidence_version") != EVIDENCE_VERSION
    ):
        problem = f"is not an evidence file of version {EVIDENCE_VERSION}"
    if problem is not None:
        raise EvidenceError(f"{where} {problem}")
    assert isinstance(document, dict)
    return document


@dataclasses.dataclass(frozen=True)
class EvidenceSummary:
    """The figures of one answer, as the materialization shows them."""

    source: str
    model: str | None
    response_id: str | None
    request_id: str | None
    cost_usd: float | None
    searches: Mapping[str, int]
    citations: int
    grounding_checked: bool
    grounded: int | None
    dropped: int | None

    def metadata(self) -> dict[str, str | int | float | bool]:
        """Numbers as numbers, so the UI plots them day by day; unknowns left out."""
        values: dict[str, str | int | float | bool | None] = {
            "source": self.source,
            "model": self.model,
            "response_id": self.response_id,
            "request_id": self.request_id,
            "cost_usd": self.cost_usd,
            **{f"{tool}_calls": self.searches.get(tool) for tool in SEARCH_TOOLS},
            "citations": self.citations,
            "grounding_checked": self.grounding_checked,
            "grounded_picks": self.grounded,
            "dropped_picks": self.dropped,
        }
        return {key: value for key, value in values.items() if value is not None}


def summary_of(document: Mapping[str, Any]) -> EvidenceSummary:
    usage = document.get("usage") or {}
    grounding = document.get("grounding") or {}
    searches = usage.get("searches") or {}
    checked = bool(grounding.get("checked"))
    return EvidenceSummary(
        source=str(document.get("source")),
        model=document.get("model"),
        response_id=document.get("response_id"),
        request_id=document.get("request_id"),
        cost_usd=usage.get("cost_usd"),
        searches={str(k): int(v) for k, v in searches.items()},
        citations=len(document.get("citations") or ()),
        grounding_checked=checked,
        grounded=len(grounding.get("grounded") or ()) if checked else None,
        dropped=len(grounding.get("dropped") or ()) if checked else None,
    )
