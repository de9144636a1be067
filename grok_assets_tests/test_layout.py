"""Key patterns of the layout that other modules recognise objects by."""

from __future__ import annotations

import datetime as dt

import pytest

from grok_assets import layout
from grok_assets.backup.fsck import UNREFERENCED, run_fsck
from grok_assets.storage import S3Store

DAY = dt.date(2026, 11, 24)


def test_answer_key() -> None:
    assert layout.answer_key(DAY) == "grok/answers/20261124.json"
    assert layout.answer_key(DAY).startswith(layout.ANSWERS_DIR)


@pytest.mark.parametrize(
    ("key", "known"),
    [
        ("grok/answers/20261124.json", True),
        ("grok/replay/20261124.json", True),
        ("grok/answers/20261324.json", False),  # no 13th month
        ("grok/answers/2026112.json", False),
        ("grok/answers/20261124.json.bak", False),
        ("grok/answers/20261124.txt", False),
    ],
)
def test_answers_are_layout_keys(key: str, known: bool) -> None:
    assert layout.is_layout_key(key) is known
    # JSON: never listed in the manifest, which tracks parquet files.
    assert not layout.is_tracked(key)


def test_fsck_does_not_report_an_answer_as_unreferenced(store: S3Store) -> None:
    store.put_bytes(layout.answer_key(DAY), b"{}", content_type="application/json")
    stray = "grok/answers/20261124.json.tmp"
    store.put_bytes(stray, b"{}")

    unreferenced = {f.key for f in run_fsck(store) if f.kind == UNREFERENCED}

    assert stray in unreferenced
    assert layout.answer_key(DAY) not in unreferenced
