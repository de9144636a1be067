"""The schemas' own rules: candidate files of every age read as CANDIDATE_SCHEMA."""

from __future__ import annotations

import pyarrow as pa
import pytest

from grok_assets.schemas import (
    CANDIDATE_OPTIONAL,
    CANDIDATE_SCHEMA,
    SchemaMismatchError,
    conform_candidates,
)
from grok_assets_tests.support.factories import selection_rows

WHERE = "s3://bucket/parquet/grok/candidates/grok_candidates_20261120.parquet"


def test_a_candidates_file_from_before_the_evidence_reads_with_nulls() -> None:
    older = selection_rows("2026-11-20").drop_columns(list(CANDIDATE_OPTIONAL))
    conformed = conform_candidates(older, WHERE)
    assert conformed.schema.equals(CANDIDATE_SCHEMA)
    assert conformed.column("response_id").null_count == conformed.num_rows
    assert conformed.column("evidence_urls").null_count == conformed.num_rows


def test_a_candidates_file_lacking_a_required_column_is_refused_by_name() -> None:
    broken = selection_rows("2026-11-20").drop_columns(["grok_rank"])
    with pytest.raises(SchemaMismatchError, match="grok_rank"):
        conform_candidates(broken, WHERE)


def test_a_current_candidates_file_is_read_as_it_is() -> None:
    current = selection_rows("2026-11-20")
    assert conform_candidates(current, WHERE).equals(current.select(CANDIDATE_SCHEMA.names))
    assert isinstance(current.schema.field("evidence_urls").type, pa.ListType)
