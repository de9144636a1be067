"""Bytes in S3, safely: one error tree, MD5 on every upload, conditional writes proven
before they are trusted, compare-and-swap, and parquet read by ranged GETs pinned to one
version of an object. Nothing here knows what the objects mean."""

from grok_assets.storage.client import open_store, s3_client
from grok_assets.storage.conditional import compare_and_swap
from grok_assets.storage.digest import MD5_METADATA_KEY, md5_hex
from grok_assets.storage.errors import (
    AccessDeniedError,
    ConcurrentUpdateError,
    CorruptObjectError,
    NoSuchBucketError,
    ObjectMissingError,
    PreconditionFailedError,
    StorageError,
    TransferInterruptedError,
    UnconditionalStoreError,
    UploadAlteredError,
)
from grok_assets.storage.parquet import (
    ReadPlan,
    decode_parquet,
    encode_parquet,
    open_parquet,
    parquet_file,
    read_footer,
    read_parquet,
    read_parquet_rows,
    read_planned_rows,
    write_parquet,
)
from grok_assets.storage.ranged import RangedObjectReader, ranged_reader
from grok_assets.storage.store import ObjectInfo, S3Store

__all__ = [
    "MD5_METADATA_KEY",
    "AccessDeniedError",
    "ConcurrentUpdateError",
    "CorruptObjectError",
    "NoSuchBucketError",
    "ObjectInfo",
    "ObjectMissingError",
    "PreconditionFailedError",
    "RangedObjectReader",
    "ReadPlan",
    "S3Store",
    "StorageError",
    "TransferInterruptedError",
    "UnconditionalStoreError",
    "UploadAlteredError",
    "compare_and_swap",
    "decode_parquet",
    "encode_parquet",
    "md5_hex",
    "open_parquet",
    "open_store",
    "parquet_file",
    "ranged_reader",
    "read_footer",
    "read_parquet",
    "read_parquet_rows",
    "read_planned_rows",
    "s3_client",
    "write_parquet",
]
