"""Grok's picks for trading day N and their evidence, stored once and never replaced.

Keeping the answer immutable is what breaks the selection -> backtest -> gate ->
selection loop: a held-back publication still leaves its answer in S3. Asking only
when nothing is stored keeps re-runs idempotent and spares a paid, search-heavy call.

Order of the writes: the evidence file first, then the candidates, each with
``If-None-Match: *``, and both only after the answer was validated and grounded. So
candidates never exist without their evidence; evidence without candidates (a run
stopped between the two writes, or a racing run) is completed from the evidence
itself, never by asking again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from grok_assets import layout
from grok_assets.schemas import conform_candidates
from grok_assets.selection import evidence
from grok_assets.selection.selector import Selection, selection_from
from grok_assets.storage import PreconditionFailedError, S3Store, decode_parquet, write_parquet


@dataclass(frozen=True)
class CandidatesOutcome:
    key: str
    evidence_key: str
    rows: int
    tickers: list[str]
    md5: str
    # False when the candidates were already stored (by an earlier run, or a racing one).
    written: bool
    # How this run came by them: "asked", "rebuilt from the stored evidence", or "stored".
    how: str
    # None when the day has no evidence file (candidates stored before there was one).
    summary: evidence.EvidenceSummary | None
    # Why picks were dropped, when this run derived the candidates.
    dropped: tuple[str, ...]


ASKED = "asked"
REBUILT = "rebuilt from the stored evidence"
STORED = "stored"


def _stored_document(store: S3Store, key: str) -> dict[str, object] | None:
    if store.head(key) is None:
        return None
    data, _ = store.get_bytes(key)
    return evidence.decode(data, store.uri(key))


def store_candidates_once(
    store: S3Store, day: dt.date, ask: Callable[[], Selection]
) -> CandidatesOutcome:
    """The day's stored candidates, asking ``ask`` only when neither they nor their
    evidence is stored. ``ask`` raises (and nothing is written) when the answer is not
    a valid, grounded selection."""
    key = layout.candidates_key(day)
    evidence_key = layout.answer_key(day)
    how = STORED
    selection: Selection | None = None
    written = False
    if store.head(key) is None:
        stored = _stored_document(store, evidence_key)
        if stored is not None:
            selection, how = selection_from(stored, store.uri(evidence_key)), REBUILT
        else:
            selection, how = ask(), ASKED
            if not _put_evidence_once(store, evidence_key, selection):
                # A racing run stored its answer first; that one stands, and so do the
                # candidates made from it.
                raced = _stored_document(store, evidence_key) or selection.document
                selection, how = selection_from(raced, store.uri(evidence_key)), REBUILT
        try:
            write_parquet(store, key, selection.table, if_none_match=True)
            written = True
        except PreconditionFailedError:
            # Another run stored its candidates first; those stay.
            pass
    data, info = store.get_bytes(key)
    table = conform_candidates(decode_parquet(store, key, data), store.uri(key))
    if selection is not None:
        summary: evidence.EvidenceSummary | None = selection.summary
    else:
        document = _stored_document(store, evidence_key)
        summary = None if document is None else evidence.summary_of(document)
    return CandidatesOutcome(
        key=key,
        evidence_key=evidence_key,
        rows=table.num_rows,
        tickers=table.column("ticker").to_pylist(),
        md5=info.md5 or "",
        written=written,
        how=how,
        summary=summary,
        dropped=() if selection is None else tuple(d.reason for d in selection.dropped),
    )


def _put_evidence_once(store: S3Store, key: str, selection: Selection) -> bool:
    """Write the evidence file unless one exists; False when one did."""
    try:
        store.put_bytes(
            key,
            evidence.encode(selection.document),
            if_none_match=True,
            content_type="application/json",
        )
    except PreconditionFailedError:
        return False
    return True
