"""Whether an answer rests on tonight's search: pure checks over a Responses API body.

Everything takes the response as the JSON dict the API sent, so a recorded response
(replay, or the evidence file) is checked exactly as a live one.

The rule: search must have run (server-side tool usage above zero, or search tool-call
items in the output) and the output must carry ``url_citation`` annotations; a pick is
grounded when at least one of its ``evidence_urls`` is among the citations, compared
as normalised URLs (X posts by status id alone). Ungrounded picks are dropped with
the reason; fewer than MIN_PICKS grounded picks fail the selection.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from grok_assets.selection.answer import ModelAnswerError
from grok_assets.selection.picks import MIN_PICKS, Pick

SearchTool = Literal["x_search", "web_search"]
SEARCH_TOOLS: Final[tuple[SearchTool, ...]] = ("x_search", "web_search")

# docs.x.ai "Cost Tracking": 1 USD = 10,000,000,000 ticks.
USD_TICKS_PER_DOLLAR: Final = 10**10

# Output item types xAI uses for server-side search. X search has also been seen as a
# `custom_tool_call` named after the X sub-tool (x_keyword_search, x_semantic_search,
# x_user_search, x_thread_fetch), hence the name rule in _item_tool.
_ITEM_TOOLS: Final[Mapping[str, SearchTool]] = {
    "x_search_call": "x_search",
    "web_search_call": "web_search",
}
_CUSTOM_WEB_NAMES: Final = frozenset({"web_search", "browse_page", "open_page"})
# usage.server_side_tool_usage_details keys, as recorded grok-4.3 responses spell them.
_USAGE_KEYS: Final[Mapping[SearchTool, str]] = {
    "x_search": "x_search_calls",
    "web_search": "web_search_calls",
}

_TRACKING_PARAMS: Final = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_ga"}
    | {"ref_src", "ref_url"}
)
_X_HOSTS: Final = frozenset(
    {"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com", "m.twitter.com"}
)
# /{user}/status/{id}, /{user}/statuses/{id}, /i/web/status/{id}, /i/status/{id}, each
# possibly followed by /photo/1, /video/1, /analytics and the like.
_X_STATUS: Final = re.compile(r"^/(?:i/web|i|[A-Za-z0-9_]{1,15})/status(?:es)?/(\d+)(?:/|$)")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class GroundingError(ModelAnswerError):
    """The answer does not rest on tonight's search; nothing may be written."""

    def __init__(self, message: str, dropped: Sequence[DroppedPick] = ()) -> None:
        super().__init__(message)
        self.dropped = tuple(dropped)


def _items(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    output = body.get("output")
    if not isinstance(output, list):
        return []
    return [item for item in output if isinstance(item, Mapping)]


def _text_parts(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts: list[Mapping[str, Any]] = []
    for item in _items(body):
        if item.get("type") != "message":
            continue
        for content in item.get("content") or ():
            if isinstance(content, Mapping) and content.get("type") == "output_text":
                parts.append(content)
    return parts


def output_text(body: Mapping[str, Any]) -> str:
    """The concatenated output_text of the message items, as the SDK's ``output_text``."""
    return "".join(str(part.get("text") or "") for part in _text_parts(body))


def _item_tool(item: Mapping[str, Any]) -> SearchTool | None:
    kind = item.get("type")
    if isinstance(kind, str) and kind in _ITEM_TOOLS:
        return _ITEM_TOOLS[kind]
    if kind == "custom_tool_call":
        name = str(item.get("name") or "")
        if name.startswith("x_"):
            return "x_search"
        if name in _CUSTOM_WEB_NAMES:
            return "web_search"
    return None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclasses.dataclass(frozen=True)
class SearchUsage:
    """What the response says about server-side search.

    ``billed``: usage.server_side_tool_usage_details (successful, billed calls);
    ``items``: the search tool-call items of the output (attempts, failed ones too).
    """

    tools_used: int
    billed: Mapping[SearchTool, int]
    items: Mapping[SearchTool, int]

    @property
    def ran(self) -> bool:
        return self.tools_used > 0 or any(self.billed.values()) or any(self.items.values())

    def count(self, tool: SearchTool) -> int:
        # Billing is the truth when present; a body without it still has the items.
        return self.billed.get(tool, self.items.get(tool, 0))

    def per_tool(self) -> dict[str, int]:
        return {tool: self.count(tool) for tool in SEARCH_TOOLS}


def search_usage(body: Mapping[str, Any]) -> SearchUsage:
    found = body.get("usage")
    usage: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    details = usage.get("server_side_tool_usage_details")
    billed: dict[SearchTool, int] = {}
    if isinstance(details, Mapping):
        for tool, key in _USAGE_KEYS.items():
            value = _count(details.get(key))
            if value is not None:
                billed[tool] = value
    items: dict[SearchTool, int] = {}
    for item in _items(body):
        tool = _item_tool(item)
        if tool is not None:
            items[tool] = items.get(tool, 0) + 1
    return SearchUsage(
        tools_used=_count(usage.get("num_server_side_tools_used")) or 0,
        billed=billed,
        items=items,
    )


def citation_urls(body: Mapping[str, Any]) -> list[str]:
    """The url_citation URLs of all output_text parts in first-seen order, one per
    normalised URL."""
    seen: set[str] = set()
    urls: list[str] = []
    for part in _text_parts(body):
        for note in part.get("annotations") or ():
            if not isinstance(note, Mapping) or note.get("type") != "url_citation":
                continue
            url = note.get("url")
            if isinstance(url, str) and url.strip() and normalise_url(url) not in seen:
                seen.add(normalise_url(url))
                urls.append(url.strip())
    return urls


def x_status_id(url: str) -> str | None:
    """The post id of an X/Twitter status URL, on any of its hosts and path spellings."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else "https://" + text)
    host = (parts.hostname or "").lower().removeprefix("www.")
    if host not in _X_HOSTS:
        return None
    match = _X_STATUS.match(parts.path)
    return match.group(1) if match else None


def normalise_url(url: str) -> str:
    """A comparison key, equal for URLs that name the same page.

    Scheme (http/https), host case, "www.", default ports, a trailing slash, the
    fragment, tracking parameters and query order are ignored. X posts compare by
    status id alone: the same post is linked as x.com, twitter.com or
    mobile.twitter.com, under any handle, or as /i/status/ID (as xAI cites them).
    """
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    status = x_status_id(text)
    if status is not None:
        return f"x.com/i/status/{status}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().removeprefix("www.")
    if host in _X_HOSTS:
        host = "x.com"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if host == "x.com":
        # Profiles and searches: handles are case-insensitive on X.
        path = path.lower()
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
    )
    return urlunsplit(("", netloc, path, urlencode(query), "")).removeprefix("//")


@dataclasses.dataclass(frozen=True)
class GroundedPick:
    pick: Pick
    cited_urls: tuple[str, ...]  # its evidence_urls that the response cites
    uncited_urls: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class DroppedPick:
    pick: Pick
    reason: str


@dataclasses.dataclass(frozen=True)
class GroundingReport:
    usage: SearchUsage
    citations: tuple[str, ...]
    grounded: tuple[GroundedPick, ...]
    dropped: tuple[DroppedPick, ...]


def split_picks(picks: Sequence[Pick], citations: Iterable[str]) -> GroundingReport:
    """Split picks into those whose evidence the search returned and the rest, each
    dropped pick with the reason in words. (``usage`` is left empty; see ground.)"""
    cited = tuple(citations)
    keys = {normalise_url(url) for url in cited}
    grounded: list[GroundedPick] = []
    dropped: list[DroppedPick] = []
    for pick in picks:
        hits = tuple(url for url in pick.evidence_urls if normalise_url(url) in keys)
        misses = tuple(url for url in pick.evidence_urls if normalise_url(url) not in keys)
        if hits:
            grounded.append(GroundedPick(pick, hits, misses))
            continue
        if not pick.evidence_urls:
            reason = f"{pick.code} {pick.stock_name}: no evidence_urls given"
        else:
            reason = (
                f"{pick.code} {pick.stock_name}: none of its {len(misses)} evidence URL(s) "
                f"is among the {len(keys)} cited source(s): {', '.join(misses)}"
            )
        dropped.append(DroppedPick(pick, reason))
    return GroundingReport(SearchUsage(0, {}, {}), cited, tuple(grounded), tuple(dropped))


def require_search(body: Mapping[str, Any], *, source: str) -> tuple[SearchUsage, list[str]]:
    """The search usage and citations of ``body``; GroundingError ("no live search ran")
    unless search ran and something was cited."""
    usage = search_usage(body)
    citations = citation_urls(body)
    if not usage.ran or not citations:
        searches = ", ".join(f"{tool} {n}" for tool, n in usage.per_tool().items())
        raise GroundingError(
            f"{source}: no live search ran (server-side tools used {usage.tools_used}; "
            f"{searches}; {len(citations)} url_citation annotation(s)): the picks would rest "
            "on the model's training data, not on tonight's posts and news"
        )
    return usage, citations


def ground(
    body: Mapping[str, Any], picks: Sequence[Pick], *, source: str, minimum: int = MIN_PICKS
) -> GroundingReport:
    """The grounded and dropped picks of a response that searched; GroundingError when
    fewer than ``minimum`` picks are grounded."""
    usage, citations = require_search(body, source=source)
    report = dataclasses.replace(split_picks(picks, citations), usage=usage)
    if len(report.grounded) < minimum:
        reasons = "; ".join(dropped.reason for dropped in report.dropped)
        raise GroundingError(
            f"{source}: only {len(report.grounded)} of {len(picks)} picks are grounded in "
            f"the {len(citations)} cited source(s), at least {minimum} needed. Dropped: "
            f"{reasons}",
            report.dropped,
        )
    return report


def cost_ticks(body: Mapping[str, Any]) -> int | None:
    usage = body.get("usage")
    return _count(usage.get("cost_in_usd_ticks")) if isinstance(usage, Mapping) else None


def cost_usd(body: Mapping[str, Any]) -> Decimal | None:
    """The billed cost from usage.cost_in_usd_ticks, exact; None when the body has none."""
    ticks = cost_ticks(body)
    return None if ticks is None else Decimal(ticks) / USD_TICKS_PER_DOLLAR
