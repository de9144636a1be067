"""Grok's raw picks for trading day N, stored once and never replaced.

Keeping the answer immutable is what breaks the selection -> backtest -> gate ->
selection loop: a held-back publication still leaves its answer in S3. Asking only
when no answer is stored keeps re-runs idempotent and spares an API call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from grok_assets import layout
from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.storage import PreconditionFailedError, S3Store, decode_parquet, write_parquet


@dataclass(frozen=True)
class CandidatesOutcome:
    key: str
    rows: int
    tickers: list[str]
    md5: str
    # False when an answer was already stored (by an earlier run, or a racing one).
    written: bool


def store_candidates_once(
    store: S3Store, day: dt.date, ask: Callable[[], pa.Table]
) -> CandidatesOutcome:
    """The day's stored candidates, asking ``ask`` for them only when none are stored."""
    key = layout.candidates_key(day)
    written = False
    if store.head(key) is None:
        answer = ask()
        try:
            write_parquet(store, key, answer, if_none_match=True)
            written = True
        except PreconditionFailedError:
            # Another run stored its answer first; that one stays.
            pass
    data, info = store.get_bytes(key)
    table = decode_parquet(store, key, data, CANDIDATE_SCHEMA)
    return CandidatesOutcome(
        key=key,
        rows=table.num_rows,
        tickers=table.column("ticker").to_pylist(),
        md5=info.md5 or "",
        written=written,
    )
