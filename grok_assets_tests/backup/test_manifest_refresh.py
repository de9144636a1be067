"""A manifest refresh costs one listing plus requests for the objects that changed: an
entry whose ETag the listing still shows is reused without a HEAD or GET."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from grok_assets import layout
from grok_assets.backup.manifest import refresh_manifest
from grok_assets.storage import S3Store


class RequestLog:
    """Every S3 operation the store's client sends, with its key."""

    def __init__(self, client: Any) -> None:
        self.sent: list[tuple[str, str]] = []
        client.meta.events.register("before-call.s3", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.sent.append((model.name, str(params.get("url_path", ""))))

    def clear(self) -> None:
        self.sent.clear()

    def operations(self) -> Counter[str]:
        return Counter(name for name, _ in self.sent)

    def keys_of(self, operation: str) -> list[str]:
        return [path for name, path in self.sent if name == operation]


@pytest.fixture
def watched(store: S3Store, s3_client: Any) -> tuple[S3Store, RequestLog]:
    for index in range(5):
        store.put_bytes(f"backtest/grok_trending_2026111{index}.parquet", b"PAR1 %d" % index)
    store.put_bytes(layout.PUBLISHED_SELECTION, b"PAR1 selection")
    assert refresh_manifest(store).written
    return store, RequestLog(s3_client)


def test_a_refresh_with_nothing_changed_reads_no_listed_object(
    watched: tuple[S3Store, RequestLog],
) -> None:
    store, log = watched

    outcome = refresh_manifest(store)

    assert not outcome.written
    assert outcome.files == 6
    operations = log.operations()
    assert operations["HeadObject"] == 0
    # The only object read is the manifest itself (the compare-and-swap reads it).
    assert all(path.endswith(layout.MANIFEST) for path in log.keys_of("GetObject"))
    assert operations["GetObject"] == 1
    assert operations["PutObject"] == 0
    assert operations["ListObjectsV2"] >= 1


def test_a_refresh_after_one_change_reads_only_that_object(
    watched: tuple[S3Store, RequestLog],
) -> None:
    store, log = watched
    store.put_bytes("backtest/grok_trending_20261112.parquet", b"PAR1 changed")
    store.put_bytes("backtest/grok_trending_20261120.parquet", b"PAR1 new")
    log.clear()

    outcome = refresh_manifest(store)

    assert outcome.written and outcome.files == 7
    reads = Counter(
        path.rsplit("/", 1)[1] for path in [*log.keys_of("HeadObject"), *log.keys_of("GetObject")]
    )
    # One read of each changed object (its tail holds its metadata and its footer), and
    # the manifest itself; nothing else.
    assert reads == Counter(
        {
            "grok_trending_20261112.parquet": 1,
            "grok_trending_20261120.parquet": 1,
            "manifest.json": 1,
        }
    )
