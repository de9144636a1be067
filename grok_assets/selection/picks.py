"""The one definition of a day-trade pick, and the strict JSON schema derived from it.

``Pick`` is the single source: the schema sent to xAI as ``text.format``
(:func:`text_format`), the local validation of every answer (``answer.py`` checks each
field of ``Pick`` with the bounds below) and the typed value the selection works with.
A field added here reaches the schema and, through a test, the validation.

What xAI's strict structured outputs do with this schema (docs.x.ai, Structured Outputs):
fields not listed in ``required`` are optional there, so every field is listed;
``additionalProperties`` is written out although it defaults to false; ``pattern`` is
anchored implicitly, so patterns carry no ``^``/``$``; ``minItems``/``maxItems`` (up to
256), ``minimum``/``maximum`` and ``format: uri`` are enforced. Enforced or not, the
answer is still untrusted input and is validated again here.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args, get_origin

MIN_PICKS: Final = 10
MAX_PICKS: Final = 15
MIN_EVIDENCE_URLS: Final = 1
MAX_EVIDENCE_URLS: Final = 5
MAX_MENTIONED_BY: Final = 10
SCHEMA_NAME: Final = "day_trade_picks"

PolicyLink = Literal["High", "Med", "Low"]
POLICY_LINKS: Final[tuple[str, ...]] = get_args(PolicyLink)

# JPX has issued codes with letters (e.g. "130A") since 2024 beside the classic four
# digits; the 1st and 3rd characters stay digits.
CODE_PATTERN: Final = "[0-9][0-9A-Z][0-9][0-9A-Z]"
# X handles: 1-15 letters, digits or underscores; "@" optional, as models write both.
HANDLE_PATTERN: Final = "@?[A-Za-z0-9_]{1,15}"


def _spec(description: str, **constraints: Any) -> Mapping[str, Any]:
    return {"description": description, "constraints": constraints}


@dataclasses.dataclass(frozen=True)
class Pick:
    """One candidate. Field order is the order of the JSON object the model is asked for."""

    code: str = dataclasses.field(
        metadata=_spec(
            'TSE securities code, 4 characters, e.g. "7203" or "130A".', pattern=CODE_PATTERN
        )
    )
    stock_name: str = dataclasses.field(
        metadata=_spec("Company name as listed on the TSE (Japanese).", minLength=1)
    )
    reason: str = dataclasses.field(
        metadata=_spec(
            "One or two sentences in Japanese on why it should move, from what search found.",
            minLength=1,
        )
    )
    category: str = dataclasses.field(
        metadata=_spec('Short theme label, e.g. "決算", "防衛", "半導体".', minLength=1)
    )
    sentiment_score: float = dataclasses.field(
        metadata=_spec("Confidence from 0 to 1 that sentiment is bullish.", minimum=0, maximum=1)
    )
    policy_link: PolicyLink = dataclasses.field(
        metadata=_spec("How strongly the stock is tied to current government policy.")
    )
    has_mention: bool = dataclasses.field(
        metadata=_spec("True if investors or commentators on X actively discuss it tonight.")
    )
    mentioned_by: tuple[str, ...] = dataclasses.field(
        metadata=_spec(
            "X handles of the accounts that mention it; empty when none.",
            maxItems=MAX_MENTIONED_BY,
            items={"pattern": HANDLE_PATTERN},
        )
    )
    evidence_urls: tuple[str, ...] = dataclasses.field(
        metadata=_spec(
            "URLs of the X posts and articles found by search that the pick rests on.",
            minItems=MIN_EVIDENCE_URLS,
            maxItems=MAX_EVIDENCE_URLS,
            items={"format": "uri", "minLength": 1},
        )
    )


def _json_type(annotation: Any) -> dict[str, Any]:
    if annotation is str:
        return {"type": "string"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is float:
        return {"type": "number"}
    if get_origin(annotation) is Literal:
        return {"type": "string", "enum": list(get_args(annotation))}
    if get_origin(annotation) is tuple:
        item, ellipsis = get_args(annotation)
        if ellipsis is not Ellipsis:
            raise TypeError(f"only homogeneous tuples map to JSON arrays, got {annotation}")
        return {"type": "array", "items": _json_type(item)}
    raise TypeError(f"no JSON schema mapping for {annotation!r}")


def pick_fields() -> list[tuple[dataclasses.Field[Any], Any]]:
    """Each field of ``Pick`` with its resolved type, in order."""
    # get_type_hints resolves the string annotations left by `from __future__ import`.
    hints = typing.get_type_hints(Pick)
    return [(field, hints[field.name]) for field in dataclasses.fields(Pick)]


def field_names() -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(Pick))


def constraints(name: str) -> Mapping[str, Any]:
    """The schema constraints of one field (``items`` holds those of an array's items)."""
    return next(f.metadata["constraints"] for f in dataclasses.fields(Pick) if f.name == name)


def _field_schema(field: dataclasses.Field[Any], annotation: Any) -> dict[str, Any]:
    schema = _json_type(annotation)
    extra = dict(field.metadata["constraints"])
    item_constraints = extra.pop("items", None)
    if item_constraints:
        schema["items"] = {**schema["items"], **item_constraints}
    schema.update(extra)
    schema["description"] = field.metadata["description"]
    return schema


def pick_schema() -> dict[str, Any]:
    """The strict JSON schema of one pick."""
    fields = pick_fields()
    return {
        "type": "object",
        "properties": {field.name: _field_schema(field, hint) for field, hint in fields},
        "required": [field.name for field, _ in fields],
        "additionalProperties": False,
    }


def answer_schema() -> dict[str, Any]:
    """The strict JSON schema of the whole answer, ``{"picks": [10..15 picks]}``.

    An object rather than a bare array: structured outputs take an object at the root.
    """
    return {
        "type": "object",
        "properties": {
            "picks": {
                "type": "array",
                "minItems": MIN_PICKS,
                "maxItems": MAX_PICKS,
                "items": pick_schema(),
            }
        },
        "required": ["picks"],
        "additionalProperties": False,
    }


def text_format() -> dict[str, Any]:
    """The Responses API ``text.format`` asking for the answer schema, strictly."""
    return {"type": "json_schema", "name": SCHEMA_NAME, "schema": answer_schema(), "strict": True}
