"""Publishing a day's candidates as ``grok_trending.parquet``: the one overwrite.

It re-verifies the gate itself right before writing: blocking checks only hold
within one run, and a user may materialize the publication alone from the UI. The
write is conditioned on the ETag the gate inspected, so a selection published by
someone else in between is never overwritten unchecked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets import layout
from grok_assets.backup.gate import backup_status, published_selection_date
from grok_assets.schemas import CANDIDATE_SCHEMA, PUBLISHED_SCHEMA, conform_candidates
from grok_assets.storage import (
    PreconditionFailedError,
    S3Store,
    decode_parquet,
    encode_parquet,
    md5_hex,
)
from grok_assets.trading_calendar import TOKYO_TZ

# What every published row says of itself, as the previous pipeline published it.
CATEGORIES = ["GROK"]
SOURCE = "grok"
TOP_RANKS = 5
TOP_TAG = "⭐Top5"


class GateClosedError(RuntimeError):
    """Publishing now would overwrite a selection that is not backed up (or a newer
    one); nothing was written."""

    def __init__(self, message: str, *, published_date: str | None, findings: list[str]) -> None:
        super().__init__(message)
        self.published_date = published_date
        self.findings = findings


class PublishConflictError(RuntimeError):
    """Another run published between the gate's inspection and this write."""


@dataclass(frozen=True)
class PublishOutcome:
    written: bool
    replaced_date: str | None
    md5: str


def tags_of(category: str | None, score: float | None, rank: int | None) -> str:
    """``"<category>,<score:.1f>[,⭐Top5]"``, the tags string the stock list reads."""
    tags = f"{category or ''},{score if score is not None else 0.0:.1f}"
    return f"{tags},{TOP_TAG}" if rank is not None and rank <= TOP_RANKS else tags


def published_table(candidates: pa.Table, updated_at: str) -> pa.Table:
    """The candidates in the published selection's shape (PUBLISHED_SCHEMA)."""
    count = candidates.num_rows
    tags = [
        tags_of(category, score, rank)
        for category, score, rank in zip(
            candidates.column("category").to_pylist(),
            candidates.column("selection_score").to_pylist(),
            candidates.column("grok_rank").to_pylist(),
            strict=True,
        )
    ]
    extra = {
        "categories": pa.array([CATEGORIES] * count, pa.list_(pa.string())),
        "tags": pa.array(tags, pa.string()),
        "source": pa.array([SOURCE] * count, pa.string()),
        "selection_rank": pc.cast(candidates.column("grok_rank"), pa.int64()),
        "updated_at": pa.array([updated_at] * count, pa.string()),
    }
    table = candidates.select(CANDIDATE_SCHEMA.names)
    for name, values in extra.items():
        table = table.append_column(name, values)
    return table.cast(PUBLISHED_SCHEMA)


def publish_selection(store: S3Store, day: dt.date) -> PublishOutcome:
    """Publish ``day``'s candidates, refusing while the published selection is unbacked."""
    date = day.isoformat()
    key = layout.candidates_key(day)
    stored, info = store.get_bytes(key)
    candidates = conform_candidates(decode_parquet(store, key, stored), store.uri(key))
    # When the answer was stored, not now: a re-run publishes the same bytes.
    updated_at = info.last_modified.astimezone(TOKYO_TZ).isoformat(timespec="seconds")
    data = encode_parquet(published_table(candidates, updated_at))
    current = store.head(layout.PUBLISHED_SELECTION)
    if current is not None and current.md5 == md5_hex(data):
        return PublishOutcome(written=False, replaced_date=date, md5=current.md5)
    uri = store.uri(layout.PUBLISHED_SELECTION)
    previous_date = published_selection_date(store)
    if previous_date is not None and previous_date > date:
        raise GateClosedError(
            f"{uri} already holds {previous_date}, newer than {date}; publishing an older "
            "selection would hide the newer one",
            published_date=previous_date,
            findings=[],
        )
    status = backup_status(store, previous_date)
    if not status.passed:
        raise GateClosedError(
            f"gate closed: {uri} holds {previous_date}, which is not backed up "
            f"({'; '.join(status.findings())}); it was left untouched. Run backtest_job for "
            f"{previous_date} or `grok-assets restore --date "
            f"{(previous_date or '').replace('-', '')}`",
            published_date=previous_date,
            findings=status.findings(),
        )
    try:
        if current is None:
            info = store.put_bytes(layout.PUBLISHED_SELECTION, data, if_none_match=True)
        else:
            info = store.put_bytes(layout.PUBLISHED_SELECTION, data, if_match=current.etag)
    except PreconditionFailedError as error:
        raise PublishConflictError(
            f"{error}; another run published meanwhile, nothing was overwritten"
        ) from None
    return PublishOutcome(written=True, replaced_date=previous_date, md5=info.md5 or "")
