"""Parquet in S3: encoding, whole-object reads, and ranged reads of footers and row groups.

Whole reads go through :meth:`S3Store.get_bytes`, so they are verified against the
MD5 recorded at upload. Ranged reads go through :class:`RangedObjectReader`, pinned
to one version of the object. Anything pyarrow cannot parse is a
:class:`CorruptObjectError` naming the object; a storage failure in the middle of a
read stays the storage failure it is.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from grok_assets.schemas import SchemaMismatchError, require_schema
from grok_assets.storage.errors import CorruptObjectError, unreadable_parquet
from grok_assets.storage.ranged import TAIL_BYTES, RangedObjectReader, ranged_reader
from grok_assets.storage.store import ObjectInfo, S3Store

# Bounded row groups let a reader fetch some rows without the rest.
ROW_GROUP_SIZE = 4096
# The part of the object a footer is first looked for in: the tail the reader opened
# with, so a footer of that size costs no request of its own.
FOOTER_TAIL_BYTES = TAIL_BYTES
_MAGIC = b"PAR1"


def unreadable(store: S3Store, relative_key: str, why: object) -> CorruptObjectError:
    return unreadable_parquet(store.uri(relative_key), why, bucket=store.bucket, key=relative_key)


def encode_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(
        table.replace_schema_metadata(None) if _only_pandas_metadata(table) else table,
        sink,
        compression="zstd",
        row_group_size=ROW_GROUP_SIZE,
        write_statistics=True,
    )
    return sink.getvalue()


def _only_pandas_metadata(table: pa.Table) -> bool:
    # pandas metadata embeds library versions, which would make identical data
    # encode to different bytes after an upgrade and defeat idempotent re-runs.
    metadata = table.schema.metadata or {}
    return set(metadata) <= {b"pandas"}


def decode_parquet(
    store: S3Store, relative_key: str, data: bytes, schema: pa.Schema | None = None
) -> pa.Table:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as error:
        raise unreadable(store, relative_key, error) from None
    if schema is not None:
        require_schema(table, schema, store.uri(relative_key))
    return table


def read_parquet(store: S3Store, relative_key: str, schema: pa.Schema | None = None) -> pa.Table:
    data, _ = store.get_bytes(relative_key)
    return decode_parquet(store, relative_key, data, schema)


def write_parquet(
    store: S3Store,
    relative_key: str,
    table: pa.Table,
    *,
    if_match: str | None = None,
    if_none_match: bool = False,
) -> ObjectInfo:
    return store.put_bytes(
        relative_key, encode_parquet(table), if_match=if_match, if_none_match=if_none_match
    )


def open_parquet(
    store: S3Store,
    relative_key: str,
    reader: RangedObjectReader,
    metadata: pq.FileMetaData | None = None,
) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(reader, metadata=metadata)
    except (pa.ArrowException, OSError) as error:
        raise unreadable(store, relative_key, error) from None


def parquet_file(store: S3Store, relative_key: str) -> pq.ParquetFile | None:
    """A ParquetFile reading footer and column chunks by ranged GETs, pinned to one
    version of the object so that a concurrent replace cannot mix bytes; None when
    the object does not exist."""
    reader = ranged_reader(store, relative_key)
    if reader is None:
        return None
    return open_parquet(store, relative_key, reader)


Filters = list[tuple[str, str, Any]]
# What to read of a file, decided from its schema: the columns and the row filters.
ReadPlan = Callable[[pa.Schema], tuple[list[str] | None, Filters]]


def read_parquet_rows(
    store: S3Store,
    relative_key: str,
    *,
    columns: list[str] | None,
    filters: Filters,
) -> pa.Table | None:
    """Only the rows matching ``filters`` (``columns`` None: all of them), reading just
    the row groups whose statistics admit them; None when the object does not exist."""

    def plan(schema: pa.Schema) -> tuple[list[str] | None, Filters]:
        missing = [name for name in columns or () if name not in schema.names]
        if missing:
            raise SchemaMismatchError(
                f"{store.uri(relative_key)} lacks column(s) {', '.join(missing)}"
            )
        return columns, filters

    return read_planned_rows(store, relative_key, plan)


def read_planned_rows(store: S3Store, relative_key: str, plan: ReadPlan) -> pa.Table | None:
    """:func:`read_parquet_rows` with the columns and filters chosen from the file's own
    schema (files of other writers name or type their columns differently)."""
    reader = ranged_reader(store, relative_key)
    if reader is None:
        return None
    parquet = open_parquet(store, relative_key, reader)
    columns, filters = plan(parquet.schema_arrow)
    # The same reader, so both reads see one version of the object.
    reader.seek(0)
    try:
        return pq.read_table(reader, columns=columns, filters=filters or None)
    except (pa.ArrowException, OSError) as error:
        raise unreadable(store, relative_key, error) from None


def read_footer(store: S3Store, relative_key: str, reader: RangedObjectReader) -> pq.FileMetaData:
    """The parquet footer of the object behind ``reader``, in at most two ranged reads.

    pyarrow's reader also starts with a 64 KiB tail, but when the footer is larger it
    fetches the whole footer again; here the second read takes only the part the first
    one missed, so a long history's footer costs its own size and no more.
    """
    size = reader.size()
    if size < 2 * len(_MAGIC) + 4:
        raise unreadable(store, relative_key, f"only {size} bytes")
    tail_length = min(size, FOOTER_TAIL_BYTES)
    tail = reader.read_exactly(size - tail_length, tail_length)
    if len(tail) != tail_length or tail[-4:] != _MAGIC:
        raise unreadable(store, relative_key, "no parquet magic at the end")
    footer_length = int.from_bytes(tail[-8:-4], "little") + 8
    if footer_length + len(_MAGIC) > size:
        raise unreadable(
            store, relative_key, f"footer length {footer_length} exceeds the object's {size} bytes"
        )
    if footer_length > tail_length:
        missing = footer_length - tail_length
        tail = reader.read_exactly(size - footer_length, missing) + tail
        if len(tail) != footer_length:
            raise unreadable(store, relative_key, "the footer could not be read in full")
    try:
        # The metadata parser wants a file; a leading magic plus the footer is one.
        return pq.read_metadata(pa.BufferReader(_MAGIC + tail[-footer_length:]))
    except (pa.ArrowException, OSError) as error:
        raise unreadable(store, relative_key, error) from None
