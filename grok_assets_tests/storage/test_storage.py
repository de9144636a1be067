"""S3Store against moto's S3 server on loopback, over real HTTP (never a mocked boto3).

Failure modes moto cannot produce (AccessDenied, an endpoint with nothing listening)
come from a tiny HTTP server on loopback, or from a port nobody listens on.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from botocore.config import Config

from grok_assets.dev.s3_server import LOOPBACK_CREDENTIALS, LoopbackS3, free_port
from grok_assets.layout import Location
from grok_assets.schemas import SchemaMismatchError
from grok_assets.storage import (
    AccessDeniedError,
    ConcurrentUpdateError,
    CorruptObjectError,
    NoSuchBucketError,
    ObjectMissingError,
    PreconditionFailedError,
    S3Store,
    StorageError,
    compare_and_swap,
    decode_parquet,
    encode_parquet,
    parquet_file,
    ranged_reader,
    read_parquet,
    read_parquet_rows,
    write_parquet,
)
from grok_assets.storage.parquet import ROW_GROUP_SIZE
from grok_assets.storage.ranged import TAIL_BYTES

REGION = "ap-northeast-1"
PREFIX = "parquet/"


def _client(endpoint: str) -> Any:
    """A boto3 client that gives up at once, for endpoints that are meant to fail."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOOPBACK_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOOPBACK_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
    )


def _small_table() -> pa.Table:
    return pa.table(
        {
            "date": pa.array(["2025-01-06", "2025-01-07", "2025-01-08"], pa.string()),
            "ticker": pa.array(["1001.T", "1002.T", "1003.T"], pa.string()),
            "close": pa.array([1000.5, 2000.25, 3000.0], pa.float64()),
        }
    )


# -- uploads: Content-MD5 and md5 metadata --------------------------------------------


def test_put_bytes_sends_content_md5_and_records_md5_metadata(
    store: S3Store, s3_client: Any
) -> None:
    data = b"hello, tokyo\n" * 100
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        value = request.headers["Content-MD5"]
        sent.append(value.decode("ascii") if isinstance(value, bytes) else value)

    s3_client.meta.events.register("before-send.s3.PutObject", record)
    info = store.put_bytes("a/b.bin", data)

    digest = hashlib.md5(data)
    assert sent == [base64.b64encode(digest.digest()).decode("ascii")]
    head = s3_client.head_object(Bucket=store.bucket, Key="parquet/a/b.bin")
    assert head["Metadata"]["md5"] == digest.hexdigest()
    assert head["ContentLength"] == len(data)
    assert info.md5 == digest.hexdigest()
    assert info.etag == head["ETag"]
    assert info.key == "a/b.bin"
    # Nothing was written outside the prefix.
    listed = s3_client.list_objects_v2(Bucket=store.bucket)
    assert [item["Key"] for item in listed["Contents"]] == ["parquet/a/b.bin"]


def test_get_bytes_round_trip(store: S3Store) -> None:
    data = bytes(range(256)) * 10
    store.put_bytes("blob.bin", data)
    got, info = store.get_bytes("blob.bin")
    assert got == data
    assert info.md5 == hashlib.md5(data).hexdigest()
    assert info.size == len(data)


def test_get_bytes_refuses_bytes_that_do_not_match_recorded_md5(
    store: S3Store, s3_client: Any
) -> None:
    s3_client.put_object(
        Bucket=store.bucket,
        Key="parquet/corrupt.bin",
        Body=b"the bytes that are stored",
        Metadata={"md5": hashlib.md5(b"the bytes that were meant").hexdigest()},
    )
    with pytest.raises(CorruptObjectError) as caught:
        store.get_bytes("corrupt.bin")
    assert f"s3://{store.bucket}/parquet/corrupt.bin" in str(caught.value)
    assert caught.value.key == "corrupt.bin"


def test_get_bytes_accepts_objects_without_md5_metadata(store: S3Store, s3_client: Any) -> None:
    s3_client.put_object(Bucket=store.bucket, Key="parquet/plain.bin", Body=b"plain")
    data, info = store.get_bytes("plain.bin")
    assert data == b"plain"
    assert info.md5 is None


# -- conditional writes ------------------------------------------------------------------


def test_write_once_refuses_second_write(store: S3Store, s3_client: Any) -> None:
    first = store.put_bytes("once.bin", b"first", if_none_match=True)
    with pytest.raises(PreconditionFailedError) as caught:
        store.put_bytes("once.bin", b"second", if_none_match=True)
    assert f"s3://{store.bucket}/parquet/once.bin" in str(caught.value)
    body = s3_client.get_object(Bucket=store.bucket, Key="parquet/once.bin")
    assert body["Body"].read() == b"first"
    assert body["ETag"] == first.etag
    assert body["Metadata"]["md5"] == hashlib.md5(b"first").hexdigest()


def test_if_match_refuses_stale_etag_and_accepts_current(store: S3Store, s3_client: Any) -> None:
    old = store.put_bytes("cas.bin", b"v1")
    current = store.put_bytes("cas.bin", b"v2")
    assert old.etag != current.etag

    with pytest.raises(PreconditionFailedError):
        store.put_bytes("cas.bin", b"v3-from-stale", if_match=old.etag)
    assert s3_client.get_object(Bucket=store.bucket, Key="parquet/cas.bin")["Body"].read() == b"v2"

    written = store.put_bytes("cas.bin", b"v3", if_match=current.etag)
    got = s3_client.get_object(Bucket=store.bucket, Key="parquet/cas.bin")
    assert got["Body"].read() == b"v3"
    assert got["ETag"] == written.etag


# -- compare-and-swap --------------------------------------------------------------------


def test_compare_and_swap_creates_when_absent(store: S3Store) -> None:
    seen: list[bytes | None] = []

    def update(current: bytes | None) -> bytes:
        seen.append(current)
        return b"created"

    info = compare_and_swap(store, "new.bin", update)
    assert seen == [None]
    assert info is not None
    data, stored = store.get_bytes("new.bin")
    assert data == b"created"
    assert stored.etag == info.etag


def test_compare_and_swap_update_returning_none_writes_nothing(
    store: S3Store, s3_client: Any
) -> None:
    written = store.put_bytes("keep.bin", b"unchanged")
    puts: list[str] = []
    s3_client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: puts.append(request.url)
    )
    seen: list[bytes | None] = []

    def update(current: bytes | None) -> None:
        seen.append(current)
        return None

    info = compare_and_swap(store, "keep.bin", update)
    assert seen == [b"unchanged"]
    assert puts == []
    assert info is not None
    assert info.etag == written.etag
    assert s3_client.head_object(Bucket=store.bucket, Key="parquet/keep.bin")["ETag"] == (
        written.etag
    )

    # Absent key and nothing to change: nothing is created.
    assert compare_and_swap(store, "absent.bin", lambda current: None) is None
    assert store.head("absent.bin") is None
    assert puts == []


def test_compare_and_swap_loses_no_concurrent_update(store: S3Store) -> None:
    writers = 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def append_line(number: int) -> None:
        line = f"writer-{number}\n".encode()
        barrier.wait()
        try:
            compare_and_swap(store, "log.txt", lambda current: (current or b"") + line, attempts=40)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=append_line, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    data, _ = store.get_bytes("log.txt")
    lines = data.decode().splitlines()
    assert sorted(lines) == sorted(f"writer-{n}" for n in range(writers))


def test_compare_and_swap_gives_up_after_attempts(store: S3Store, s3_client: Any) -> None:
    store.put_bytes("contended.bin", b"start")
    calls: list[bytes | None] = []

    def update(current: bytes | None) -> bytes:
        calls.append(current)
        # A racing writer changes the object between our read and our write.
        s3_client.put_object(
            Bucket=store.bucket, Key="parquet/contended.bin", Body=f"racer-{len(calls)}".encode()
        )
        return b"mine"

    with pytest.raises(ConcurrentUpdateError) as caught:
        compare_and_swap(store, "contended.bin", update, attempts=3)
    assert len(calls) == 3
    # Each retry re-read the bytes the racer had just written.
    assert calls == [b"start", b"racer-1", b"racer-2"]
    assert f"s3://{store.bucket}/parquet/contended.bin" in str(caught.value)
    assert "3 attempts" in str(caught.value)
    final = s3_client.get_object(Bucket=store.bucket, Key="parquet/contended.bin")
    assert final["Body"].read() == b"racer-3"


# -- errors ------------------------------------------------------------------------------


def test_missing_bucket_is_named_for_every_operation(s3: LoopbackS3) -> None:
    bucket = f"grok-absent-{uuid.uuid4().hex[:12]}"
    operations = {
        "head": lambda s: s.head("x.bin"),
        "get": lambda s: s.get_bytes("x.bin"),
        "put": lambda s: s.put_bytes("x.bin", b"x"),
        "list": lambda s: s.list(),
        "delete": lambda s: s.delete("x.bin"),
    }
    for name, operation in operations.items():
        absent = S3Store(_client(s3.endpoint), Location(bucket, PREFIX))
        with pytest.raises(NoSuchBucketError) as caught:
            operation(absent)
        assert f"s3://{bucket}" in str(caught.value), name
        assert "S3_BUCKET" in str(caught.value), name
        assert caught.value.bucket == bucket


def test_bucket_deleted_after_check_is_still_reported_as_missing_bucket(
    store: S3Store, s3_client: Any
) -> None:
    # The first call checks (and remembers) the bucket; the operations afterwards
    # meet NoSuchBucket from S3 itself rather than from the bucket check.
    assert store.head("x.bin") is None
    s3_client.delete_bucket(Bucket=store.bucket)
    operations = {
        "get": lambda: store.get_bytes("x.bin"),
        "put": lambda: store.put_bytes("x.bin", b"x"),
        "list": lambda: store.list(),
    }
    for name, operation in operations.items():
        with pytest.raises(NoSuchBucketError) as caught:
            operation()
        assert f"s3://{store.bucket}" in str(caught.value), name


def test_missing_key(store: S3Store) -> None:
    assert store.head("nothing/here.bin") is None
    assert store.exists("nothing/here.bin") is False
    with pytest.raises(ObjectMissingError) as caught:
        store.get_bytes("nothing/here.bin")
    assert f"s3://{store.bucket}/parquet/nothing/here.bin" in str(caught.value)
    assert ranged_reader(store, "nothing/here.bin") is None
    assert parquet_file(store, "nothing/here.bin") is None
    assert read_parquet_rows(store, "nothing/here.bin", columns=["a"], filters=[]) is None


ACCESS_DENIED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
    b"<RequestId>loopback</RequestId></Error>"
)


def _empty_listing() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>"
    )


def _is_bucket_check(path: str, bucket: str | None) -> bool:
    """The store's bucket check: a one-key listing of exactly its prefix."""
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query)
    return (
        bucket is not None
        and url.path == f"/{bucket}"
        and query.get("prefix") == [PREFIX]
        and query.get("max-keys") == ["1"]
    )


class _DenyingHandler(http.server.BaseHTTPRequestHandler):
    """Answers 403 AccessDenied to everything, except (when allowed) the bucket
    check, so that the object operations are reached as well."""

    allowed_bucket_head: str | None = None

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length and "Expect" not in self.headers:
            self.rfile.read(length)

    def do_HEAD(self) -> None:
        status = 200 if self.path == f"/{self.allowed_bucket_head}" else 403
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _deny(self) -> None:
        self._drain()
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(ACCESS_DENIED_BODY)))
        self.end_headers()
        self.wfile.write(ACCESS_DENIED_BODY)

    def do_GET(self) -> None:
        if not _is_bucket_check(self.path, self.allowed_bucket_head):
            self._deny()
            return
        body = _empty_listing()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = _deny
    do_POST = _deny
    do_DELETE = _deny


@dataclass
class FakeServer:
    endpoint: str
    handler: type[http.server.BaseHTTPRequestHandler]


@contextmanager
def _serve(base: type[http.server.BaseHTTPRequestHandler]) -> Iterator[FakeServer]:
    # A subclass per server, so that a test may set class attributes freely.
    handler = type("Handler", (base,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield FakeServer(f"http://127.0.0.1:{server.server_address[1]}", handler)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def denying_server() -> Iterator[FakeServer]:
    with _serve(_DenyingHandler) as server:
        yield server


def _assert_access_denied(caught: pytest.ExceptionInfo[AccessDeniedError], bucket: str) -> None:
    message = str(caught.value)
    assert f"s3://{bucket}" in message
    assert "credentials" in message
    assert "IAM" in message
    assert caught.value.bucket == bucket


def test_access_denied_on_bucket_check(denying_server: FakeServer) -> None:
    bucket = "grok-denied"
    endpoint = denying_server.endpoint
    operations = {
        "head": lambda s: s.head("x.bin"),
        "get": lambda s: s.get_bytes("x.bin"),
        "put": lambda s: s.put_bytes("x.bin", b"x"),
        "list": lambda s: s.list(),
    }
    for operation in operations.values():
        denied = S3Store(_client(endpoint), Location(bucket, PREFIX))
        with pytest.raises(AccessDeniedError) as caught:
            operation(denied)
        _assert_access_denied(caught, bucket)


def test_access_denied_on_object_operations(denying_server: FakeServer) -> None:
    bucket = "grok-denied-objects"
    denying_server.handler.allowed_bucket_head = bucket  # type: ignore[attr-defined]
    denied = S3Store(_client(denying_server.endpoint), Location(bucket, PREFIX))
    operations = {
        "head": lambda: denied.head("x.bin"),
        "get": lambda: denied.get_bytes("x.bin"),
        "put": lambda: denied.put_bytes("x.bin", b"x"),
        "list": lambda: denied.list(),
        "delete": lambda: denied.delete("x.bin"),
    }
    for name, operation in operations.items():
        with pytest.raises(AccessDeniedError) as caught:
            operation()
        _assert_access_denied(caught, bucket)
        if name != "list":
            assert f"s3://{bucket}/parquet/x.bin" in str(caught.value), name


class _TruncatingHandler(http.server.BaseHTTPRequestHandler):
    """Finds the bucket, then announces 100 bytes of an object and sends only 50
    before closing the connection: a transfer cut short."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if "list-type=2" in self.path:  # the bucket check
            body = _empty_listing()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "100")
        self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
        self.send_header("Last-Modified", "Mon, 06 Jan 2025 00:00:00 GMT")
        self.end_headers()
        self.wfile.write(b"x" * 50)
        self.wfile.flush()
        self.close_connection = True


def test_transfer_cut_short_is_an_error_not_short_data() -> None:
    with _serve(_TruncatingHandler) as server:
        bucket = "grok-truncated"
        cut = S3Store(_client(server.endpoint), Location(bucket, PREFIX))
        with pytest.raises(StorageError) as caught:
            cut.get_bytes("x.bin")
    assert f"s3://{bucket}/parquet/x.bin" in str(caught.value)


def test_unreachable_endpoint_names_aws_endpoint_url() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    bucket = "grok-unreachable"
    unreachable = S3Store(_client(endpoint), Location(bucket, PREFIX))
    with pytest.raises(StorageError) as caught:
        unreachable.get_bytes("x.bin")
    assert "AWS_ENDPOINT_URL" in str(caught.value)
    assert f"s3://{bucket}" in str(caught.value)


# -- parquet -----------------------------------------------------------------------------


def test_write_and_read_parquet_round_trip(store: S3Store, s3_client: Any) -> None:
    table = _small_table()
    info = write_parquet(store, "bars/day.parquet", table)
    assert info.md5 == hashlib.md5(encode_parquet(table)).hexdigest()
    head = s3_client.head_object(Bucket=store.bucket, Key="parquet/bars/day.parquet")
    assert head["Metadata"]["md5"] == info.md5
    assert read_parquet(store, "bars/day.parquet").equals(table)
    assert read_parquet(store, "bars/day.parquet", schema=table.schema).equals(table)


def test_encode_parquet_drops_pandas_metadata_only() -> None:
    import pandas as pd

    frame = pd.DataFrame({"ticker": ["1001.T", "1002.T"], "close": [1.0, 2.0]})
    with_pandas = pa.Table.from_pandas(frame, preserve_index=False)
    assert b"pandas" in (with_pandas.schema.metadata or {})
    plain = with_pandas.replace_schema_metadata(None)
    # pandas metadata (which embeds library versions) does not reach the bytes.
    assert encode_parquet(with_pandas) == encode_parquet(plain)
    decoded = pq.read_table(pa.BufferReader(encode_parquet(with_pandas)))
    assert b"pandas" not in (decoded.schema.metadata or {})
    # Any other metadata is the caller's and is kept.
    tagged = plain.replace_schema_metadata({"source": "jquants"})
    decoded = pq.read_table(pa.BufferReader(encode_parquet(tagged)))
    assert (decoded.schema.metadata or {}).get(b"source") == b"jquants"


def test_decode_garbage_is_corrupt(store: S3Store) -> None:
    with pytest.raises(CorruptObjectError) as caught:
        decode_parquet(store, "junk.parquet", b"this is not parquet at all")
    assert f"s3://{store.bucket}/parquet/junk.parquet" in str(caught.value)

    store.put_bytes("junk.parquet", b"PAR1 but then garbage")
    with pytest.raises(CorruptObjectError) as caught:
        read_parquet(store, "junk.parquet")
    assert f"s3://{store.bucket}/parquet/junk.parquet" in str(caught.value)


def test_decode_truncated_parquet_is_corrupt(store: S3Store) -> None:
    encoded = encode_parquet(_small_table())
    for cut in (len(encoded) // 2, len(encoded) - 1, 4):
        with pytest.raises(CorruptObjectError) as caught:
            decode_parquet(store, "cut.parquet", encoded[:cut])
        assert f"s3://{store.bucket}/parquet/cut.parquet" in str(caught.value)


def test_zero_byte_object_is_corrupt(store: S3Store) -> None:
    store.put_bytes("empty.parquet", b"")
    with pytest.raises(CorruptObjectError) as caught:
        parquet_file(store, "empty.parquet")
    assert f"s3://{store.bucket}/parquet/empty.parquet" in str(caught.value)
    with pytest.raises(CorruptObjectError) as caught:
        ranged_reader(store, "empty.parquet")
    assert "empty (0 bytes)" in str(caught.value)
    with pytest.raises(CorruptObjectError):
        read_parquet(store, "empty.parquet")


def test_parquet_file_over_garbage_object_is_corrupt(store: S3Store) -> None:
    store.put_bytes("junk.parquet", b"x" * 100)
    with pytest.raises(CorruptObjectError) as caught:
        parquet_file(store, "junk.parquet")
    assert f"s3://{store.bucket}/parquet/junk.parquet" in str(caught.value)


def test_read_parquet_refuses_missing_column(store: S3Store) -> None:
    table = _small_table()
    write_parquet(store, "bars/day.parquet", table.drop_columns(["close"]))
    with pytest.raises(SchemaMismatchError) as caught:
        read_parquet(store, "bars/day.parquet", schema=table.schema)
    assert "close" in str(caught.value)
    assert "ticker" not in str(caught.value)
    assert f"s3://{store.bucket}/parquet/bars/day.parquet" in str(caught.value)


def test_read_parquet_refuses_wrong_column_type(store: S3Store) -> None:
    table = _small_table()
    wrong = table.set_column(2, "close", pa.array(["1000.5", "2000.25", "3000.0"]))
    write_parquet(store, "bars/day.parquet", wrong)
    with pytest.raises(SchemaMismatchError) as caught:
        read_parquet(store, "bars/day.parquet", schema=table.schema)
    message = str(caught.value)
    assert "close" in message
    assert "double" in message
    assert "ticker" not in message


def test_read_parquet_rows_refuses_missing_column(store: S3Store) -> None:
    write_parquet(store, "bars/day.parquet", _small_table())
    with pytest.raises(SchemaMismatchError) as caught:
        read_parquet_rows(
            store, "bars/day.parquet", columns=["ticker", "volume"], filters=[("date", "==", "x")]
        )
    assert "volume" in str(caught.value)


# -- ranged reads ------------------------------------------------------------------------

DATES = [f"2025-{month:02d}-{day:02d}" for month in (1, 2) for day in range(1, 26)]
ROWS_PER_DATE = 4000


def _big_table() -> pa.Table:
    import numpy as np

    rows = len(DATES) * ROWS_PER_DATE
    rng = np.random.default_rng(7)
    return pa.table(
        {
            "date": pa.array(np.repeat(DATES, ROWS_PER_DATE)),
            "ticker": pa.array([f"{1000 + n % 3000}.T" for n in range(rows)]),
            "row": pa.array(np.arange(rows, dtype=np.int64)),
            "value": pa.array(rng.integers(0, 2**62, rows, dtype=np.int64)),
        }
    )


@pytest.fixture
def big_parquet(store: S3Store) -> tuple[str, pa.Table, int]:
    table = _big_table()
    key = "bars/big.parquet"
    info = write_parquet(store, key, table)
    return key, table, info.size


def test_big_parquet_has_bounded_row_groups(
    store: S3Store, big_parquet: tuple[str, pa.Table, int]
) -> None:
    key, _, _ = big_parquet
    parquet = parquet_file(store, key)
    assert parquet is not None
    metadata = parquet.metadata
    assert metadata.num_rows == len(DATES) * ROWS_PER_DATE >= 200_000
    assert metadata.num_row_groups > 1
    assert all(
        metadata.row_group(n).num_rows <= ROW_GROUP_SIZE for n in range(metadata.num_row_groups)
    )


def test_read_parquet_rows_returns_exactly_one_dates_rows(
    store: S3Store, s3_client: Any, big_parquet: tuple[str, pa.Table, int]
) -> None:
    key, table, size = big_parquet
    day = DATES[17]
    fetched: list[int] = []
    s3_client.meta.events.register(
        "after-call.s3.GetObject",
        lambda parsed, **_: fetched.append(int(parsed.get("ContentLength") or 0)),
    )

    rows = read_parquet_rows(store, key, columns=["date", "row"], filters=[("date", "==", day)])

    assert rows is not None
    assert rows.column_names == ["date", "row"]
    expected = table.filter(pc.equal(table["date"], day)).select(["date", "row"])
    assert rows.num_rows == ROWS_PER_DATE
    assert rows.sort_by("row").equals(expected)
    # Only ranged reads, and only a small part of the object.
    assert fetched
    assert sum(fetched) < size / 4


def test_ranged_reader_reads_footer_without_the_whole_object(
    store: S3Store, big_parquet: tuple[str, pa.Table, int]
) -> None:
    key, table, size = big_parquet
    reader = ranged_reader(store, key)
    assert reader is not None
    assert reader.size() == size
    parquet = pq.ParquetFile(reader)
    assert parquet.metadata.num_rows == table.num_rows
    assert parquet.schema_arrow.names == table.column_names
    assert 0 < reader.bytes_fetched < size / 10
    assert reader.requests >= 1


def test_ranged_reader_seek_and_read(store: S3Store) -> None:
    # Larger than the tail the reader opens with, so its head is read by range.
    data = bytes(range(256)) * 1024
    store.put_bytes("bytes.bin", data)
    reader = ranged_reader(store, "bytes.bin")
    assert reader is not None
    assert (reader.requests, reader.bytes_fetched) == (1, TAIL_BYTES)
    reader.seek(10)
    assert reader.read(5) == data[10:15]
    reader.seek(-3, 2)
    # Served from the tail fetched on opening: no request.
    assert reader.read() == data[-3:]
    assert reader.read(1) == b""
    assert (reader.requests, reader.bytes_fetched) == (2, TAIL_BYTES + 5)
    info = store.head("bytes.bin")
    assert info is not None
    assert store.get_range("bytes.bin", 100, 110, info.etag) == data[100:110]


def test_ranged_reader_is_pinned_to_one_version(store: S3Store) -> None:
    size = TAIL_BYTES + 1000  # its head is read by range, not from the opening tail
    store.put_bytes("pinned.bin", b"A" * size)
    reader = ranged_reader(store, "pinned.bin")
    assert reader is not None
    assert reader.read(10) == b"A" * 10

    store.put_bytes("pinned.bin", b"B" * size)
    with pytest.raises(PreconditionFailedError) as caught:
        reader.read(10)
    assert f"s3://{store.bucket}/parquet/pinned.bin" in str(caught.value)


# -- idempotent writes -------------------------------------------------------------------


def test_put_if_changed_leaves_identical_object_alone(store: S3Store, s3_client: Any) -> None:
    first, written = store.put_if_changed("same.bin", b"same bytes")
    assert written is True
    before = s3_client.head_object(Bucket=store.bucket, Key="parquet/same.bin")

    puts: list[str] = []
    s3_client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: puts.append(request.url)
    )
    second, written = store.put_if_changed("same.bin", b"same bytes")
    after = s3_client.head_object(Bucket=store.bucket, Key="parquet/same.bin")

    assert written is False
    assert puts == []
    assert second.etag == first.etag == after["ETag"]
    assert after["LastModified"] == before["LastModified"]
    assert second.last_modified == before["LastModified"]

    third, written = store.put_if_changed("same.bin", b"other bytes")
    assert written is True
    assert len(puts) == 1
    assert third.etag != first.etag
    assert store.get_bytes("same.bin")[0] == b"other bytes"


# -- listing and deleting ----------------------------------------------------------------


def test_list_returns_keys_relative_to_prefix(store: S3Store, s3_client: Any) -> None:
    for relative in ("a/1.parquet", "a/2.parquet", "b/3.parquet"):
        store.put_bytes(relative, relative.encode())
    s3_client.put_object(Bucket=store.bucket, Key="elsewhere/a/4.parquet", Body=b"x")
    s3_client.put_object(Bucket=store.bucket, Key="parquetish.bin", Body=b"x")

    listed = store.list()
    assert sorted(item.key for item in listed) == ["a/1.parquet", "a/2.parquet", "b/3.parquet"]
    sizes = {item.key: item.size for item in listed}
    assert sizes["b/3.parquet"] == len(b"b/3.parquet")
    assert all(item.md5 is None for item in listed)
    assert sorted(item.key for item in store.list("a/")) == ["a/1.parquet", "a/2.parquet"]
    assert store.list("none/") == []


def test_list_follows_every_page(store: S3Store, s3_client: Any) -> None:
    for n in range(3):
        store.put_bytes(f"page/{n}.bin", b"x")
    requests: list[str] = []

    def one_key_per_page(params: dict[str, Any], **_: Any) -> None:
        params["MaxKeys"] = 1
        requests.append(str(params.get("ContinuationToken")))

    s3_client.meta.events.register("before-parameter-build.s3.ListObjectsV2", one_key_per_page)
    assert sorted(item.key for item in store.list("page/")) == [
        "page/0.bin",
        "page/1.bin",
        "page/2.bin",
    ]
    assert len(requests) >= 3


def test_delete(store: S3Store) -> None:
    store.put_bytes("gone.bin", b"x")
    store.delete("gone.bin")
    assert store.head("gone.bin") is None
    store.delete("gone.bin")  # deleting an absent key is not an error in S3
