"""All S3 I/O of the pipeline, through the boto3 client of ``dagster_aws``'s S3Resource.

Every upload carries ``Content-MD5`` (so S3 rejects bytes altered in flight) and the
same MD5 in object metadata (so readers and the manifest get the MD5 of the bytes,
never a multipart ETag). Writes that must not lose a concurrent update are
conditional: ``If-None-Match: *`` for write-once keys, ``If-Match: <etag>`` for
read-modify-write. Every S3 failure surfaces as a :class:`StorageError` that names
the bucket, the key and the likely fix.

Conditional writes only protect anything if the store enforces them, and some
S3-compatible servers accept ``If-Match``/``If-None-Match`` and silently ignore them.
So before its first conditional write each store probes once that the endpoint
answers 412 where it must (:meth:`S3Store.verify_conditional_writes`), and refuses
to go on otherwise unless ``GROK_ALLOW_UNCONDITIONAL_STORE=1`` is set.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    FlexibleChecksumError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from grok_assets.config import Location
from grok_assets.schemas import SchemaMismatchError, require_schema

MD5_METADATA_KEY = "md5"
CAS_ATTEMPTS = 6
# botocore retries a request until its response headers arrive; a body cut off after
# that (a reset mid-transfer) reaches the caller, so whole-object reads, which are
# idempotent, are retried here a bounded number of times.
READ_ATTEMPTS = 3
# An upload S3 rejected for a Content-MD5 mismatch (BadDigest) stored nothing and is
# sent again, a bounded number of times.
WRITE_ATTEMPTS = 3

# The documented opt-out of the conditional-write probe (see verify_conditional_writes).
ALLOW_UNCONDITIONAL_ENV = "GROK_ALLOW_UNCONDITIONAL_STORE"
# Probe objects live here under the prefix, for milliseconds; never parquet, so the
# manifest never lists one.
PROBE_DIR = ".probe/"
# A probe older than this was left by a killed process; the next probe removes it.
STALE_PROBE_AGE = dt.timedelta(minutes=10)

log = logging.getLogger(__name__)

# A body that broke or changed in transfer after botocore's own retries were over.
_CUT_OFF = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, FlexibleChecksumError)


class StorageError(RuntimeError):
    """An S3 operation failed; the message names the object and the likely fix."""

    def __init__(self, message: str, *, bucket: str, key: str | None) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key


class NoSuchBucketError(StorageError):
    pass


class AccessDeniedError(StorageError):
    pass


class ObjectMissingError(StorageError):
    pass


class PreconditionFailedError(StorageError):
    """A conditional write lost: someone else wrote the key first."""


class ConcurrentUpdateError(StorageError):
    """Compare-and-swap kept losing to other writers within its retry budget."""


class CorruptObjectError(StorageError):
    """An object's bytes do not match their recorded MD5 or do not parse."""


class UnconditionalStoreError(StorageError):
    """The endpoint accepts conditional writes without enforcing them."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: dt.datetime
    md5: str | None


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


_LIKELY_FIX = {
    "NoSuchBucket": "the bucket does not exist: check S3_BUCKET and AWS_ENDPOINT_URL",
    "AccessDenied": "access denied: check the credentials and the IAM policy for this prefix",
    "InvalidAccessKeyId": "the access key is not known to this endpoint: check the credentials",
    "SignatureDoesNotMatch": "the secret key is wrong for this access key: check the credentials",
    "ExpiredToken": "the session token has expired: refresh the credentials",
    "PreconditionFailed": "another writer changed the object first (precondition failed)",
    "NoSuchKey": "the object does not exist",
    "BadDigest": "the bytes S3 received do not match their Content-MD5 (altered in flight)",
    "InvalidDigest": "the Content-MD5 sent was malformed",
    "SlowDown": "the store is throttling requests: retry later",
}


def _error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    # HEAD responses have no body, so only the status tells what went wrong.
    by_status = {403: "AccessDenied", 404: "NoSuchKey", 412: "PreconditionFailed"}
    if code.isdigit() or not code:
        return by_status.get(int(code) if code.isdigit() else status or 0, code or str(status))
    return code


class S3Store:
    """One bucket and prefix of S3, addressed by keys relative to the prefix."""

    def __init__(self, client: Any, location: Location) -> None:
        self._client = client
        self.location = location
        self._bucket_checked = False
        # Probed once per store (each run step builds its own store); the lock keeps
        # threads sharing one store from probing in parallel.
        self._conditional_writes_checked = False
        self._probe_lock = threading.Lock()

    @property
    def bucket(self) -> str:
        return self.location.bucket

    @property
    def endpoint_url(self) -> str:
        return str(getattr(self._client.meta, "endpoint_url", None) or "the default AWS endpoint")

    def uri(self, relative_key: str) -> str:
        return self.location.uri(relative_key)

    # -- error handling -------------------------------------------------------------

    def _fail(self, error: Exception, relative_key: str | None, action: str) -> StorageError:
        where = self.uri(relative_key) if relative_key is not None else f"s3://{self.bucket}"
        if isinstance(error, ClientError):
            code = _error_code(error)
            fix = _LIKELY_FIX.get(code, f"S3 answered {code}")
            cls: type[StorageError] = {
                "NoSuchBucket": NoSuchBucketError,
                "AccessDenied": AccessDeniedError,
                "InvalidAccessKeyId": AccessDeniedError,
                "SignatureDoesNotMatch": AccessDeniedError,
                "ExpiredToken": AccessDeniedError,
                "PreconditionFailed": PreconditionFailedError,
                "NoSuchKey": ObjectMissingError,
                "BadDigest": CorruptObjectError,
            }.get(code, StorageError)
            return cls(f"{action} {where} failed: {fix}", bucket=self.bucket, key=relative_key)
        if isinstance(error, EndpointConnectionError):
            return StorageError(
                f"{action} {where} failed: cannot reach the S3 endpoint ({error}); "
                "check AWS_ENDPOINT_URL and the network",
                bucket=self.bucket,
                key=relative_key,
            )
        return StorageError(
            f"{action} {where} failed: {type(error).__name__}: {error}",
            bucket=self.bucket,
            key=relative_key,
        )

    def _unreadable(self, relative_key: str, error: Exception) -> CorruptObjectError:
        return CorruptObjectError(
            f"{self.uri(relative_key)} is not a readable parquet file ({error}); "
            "restore it from a backup or rebuild it, do not overwrite it blindly",
            bucket=self.bucket,
            key=relative_key,
        )

    def check_bucket(self) -> None:
        """Fail clearly on a missing bucket before a missing object can be mistaken
        for "nothing published yet"."""
        if self._bucket_checked:
            return
        try:
            # A listing under the prefix rather than HeadBucket: HeadBucket needs
            # s3:ListBucket on the whole bucket, which a grant limited to the prefix
            # (docs/iam-policy.json) does not give.
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.location.prefix, MaxKeys=1)
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or _error_code(error) in ("NoSuchBucket", "NoSuchKey"):
                raise NoSuchBucketError(
                    f"bucket s3://{self.bucket} does not exist: check S3_BUCKET and "
                    "AWS_ENDPOINT_URL",
                    bucket=self.bucket,
                    key=None,
                ) from None
            raise self._fail(error, None, "checking bucket") from None
        except BotoCoreError as error:
            raise self._fail(error, None, "checking bucket") from None
        self._bucket_checked = True

    # -- conditional-write probe ----------------------------------------------------

    def verify_conditional_writes(self, for_key: str | None = None) -> None:
        """Prove once that the endpoint enforces ``If-None-Match`` and ``If-Match``.

        Writes a probe object, then tries to overwrite it with ``If-None-Match: *``
        and with ``If-Match`` on a wrong ETag: both must be refused (412). A store
        that accepts either would let two writers overwrite each other and a
        selection replace one that is not backed up, so it is refused with
        :class:`UnconditionalStoreError` unless ``GROK_ALLOW_UNCONDITIONAL_STORE=1``.
        ``for_key`` is the write that needs the guarantee: infrastructure errors
        during the probe are reported against it, as that write would have been.
        """
        if self._conditional_writes_checked:
            return
        with self._probe_lock:
            if self._conditional_writes_checked:
                return
            ignored = self._probe(for_key)
            if ignored:
                self._refuse_or_warn(ignored)
            self._conditional_writes_checked = True

    def _probe(self, for_key: str | None) -> list[str]:
        """The conditions the endpoint ignored (empty when it enforces both)."""
        relative_key = f"{PROBE_DIR}{uuid.uuid4().hex}"
        key = self.location.key(relative_key)
        blamed = for_key if for_key is not None else relative_key
        body = b"conditional-write probe; deleted right after the probe\n"
        wrong_etag = '"' + md5_hex(b"certainly not the probe's bytes") + '"'
        ignored: list[str] = []
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentMD5=_content_md5(body)
            )
        except (ClientError, BotoCoreError) as error:
            raise self._fail(error, blamed, "writing") from None
        try:
            for name, condition in (
                ("If-None-Match: *", {"IfNoneMatch": "*"}),
                ("If-Match: <wrong ETag>", {"IfMatch": wrong_etag}),
            ):
                try:
                    self._client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=body,
                        ContentMD5=_content_md5(body),
                        **condition,
                    )
                except ClientError as error:
                    if _error_code(error) != "PreconditionFailed":
                        raise self._fail(error, blamed, "writing") from None
                else:
                    ignored.append(name)
        except BotoCoreError as error:
            raise self._fail(error, blamed, "writing") from None
        finally:
            self._remove_probes(key)
        return ignored

    def _remove_probes(self, own_key: str) -> None:
        """Delete this probe and any a killed process left behind; best effort, since
        a leftover probe is harmless (never parquet, never in the manifest)."""
        stale_before = dt.datetime.now(dt.UTC) - STALE_PROBE_AGE
        try:
            self._client.delete_object(Bucket=self.bucket, Key=own_key)
            listed = self._client.list_objects_v2(
                Bucket=self.bucket, Prefix=self.location.key(PROBE_DIR)
            )
            for item in listed.get("Contents", []):
                if item["LastModified"] < stale_before:
                    self._client.delete_object(Bucket=self.bucket, Key=item["Key"])
        except (ClientError, BotoCoreError) as error:
            log.warning("could not delete the probe object %s: %s", own_key, error)

    def _refuse_or_warn(self, ignored: list[str]) -> None:
        what = " and ".join(ignored)
        problem = (
            f"the S3 endpoint {self.endpoint_url} (bucket s3://{self.bucket}) accepted a "
            f"write with {what} that it must refuse with 412 Precondition Failed: it does not "
            "enforce conditional writes, so concurrent writers could overwrite each other's "
            "updates and a new selection could replace one that is not backed up"
        )
        if os.environ.get(ALLOW_UNCONDITIONAL_ENV, "").strip() == "1":
            log.warning(
                "!!! %s. Continuing only because %s=1 is set: the pipeline's "
                "compare-and-swap and write-once protections are NOT in force. !!!",
                problem,
                ALLOW_UNCONDITIONAL_ENV,
            )
            return
        raise UnconditionalStoreError(
            f"{problem}. Use a store that enforces If-Match and If-None-Match (AWS S3 "
            f"does), or set {ALLOW_UNCONDITIONAL_ENV}=1 to run without these protections "
            "at your own risk",
            bucket=self.bucket,
            key=None,
        )

    # -- objects --------------------------------------------------------------------

    def _info(self, relative_key: str, response: dict[str, Any]) -> ObjectInfo:
        size = response.get("ContentLength")
        if "ContentRange" in response:
            size = int(str(response["ContentRange"]).rsplit("/", 1)[1])
        return ObjectInfo(
            key=relative_key,
            size=int(size or 0),
            etag=str(response["ETag"]),
            last_modified=response["LastModified"],
            md5=(response.get("Metadata") or {}).get(MD5_METADATA_KEY),
        )

    def head(self, relative_key: str) -> ObjectInfo | None:
        self.check_bucket()
        try:
            response = self._client.head_object(
                Bucket=self.bucket, Key=self.location.key(relative_key)
            )
        except ClientError as error:
            code = _error_code(error)
            if code == "NoSuchKey" or (code == "AccessDenied" and self._absent(relative_key)):
                return None
            raise self._fail(error, relative_key, "reading metadata of") from None
        except BotoCoreError as error:
            raise self._fail(error, relative_key, "reading metadata of") from None
        return self._info(relative_key, response)

    def _absent(self, relative_key: str) -> bool:
        """After a 403 on reading an object: is the object simply not there?

        S3 answers a missing key with 403 instead of 404 when the caller may not list
        the bucket in that request's context, which a ListBucket grant limited to the
        prefix (docs/iam-policy.json) may not cover. A listing under the key's own name
        is covered and tells the two apart; a real denial stays a denial.
        """
        key = self.location.key(relative_key)
        try:
            response = self._client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        except (ClientError, BotoCoreError):
            return False
        return not any(item.get("Key") == key for item in response.get("Contents", []))

    def exists(self, relative_key: str) -> bool:
        return self.head(relative_key) is not None

    def get_bytes(self, relative_key: str, *, verify_md5: bool = True) -> tuple[bytes, ObjectInfo]:
        """Whole object, verified against the MD5 recorded at upload when there is one
        (``verify_md5=False`` only for code that must handle corrupt bytes itself,
        such as a restore replacing them)."""
        self.check_bucket()
        for _ in range(READ_ATTEMPTS - 1):
            response, data = self._read_whole(relative_key)
            info = self._info(relative_key, response)
            if not verify_md5 or info.md5 is None or md5_hex(data) == info.md5:
                break
            # Bytes altered on the way to us read differently the next time; bytes
            # stored corrupt do not, and are refused below.
            log.warning(
                "%s did not match its recorded MD5; reading it again", self.uri(relative_key)
            )
        else:
            response, data = self._read_whole(relative_key)
            info = self._info(relative_key, response)
        if len(data) != info.size:
            raise CorruptObjectError(
                f"{self.uri(relative_key)} is truncated: read {len(data)} of {info.size} bytes",
                bucket=self.bucket,
                key=relative_key,
            )
        if verify_md5 and info.md5 is not None and md5_hex(data) != info.md5:
            raise CorruptObjectError(
                f"{self.uri(relative_key)} does not match its recorded MD5 {info.md5}; "
                "restore it from a backup rather than trusting it",
                bucket=self.bucket,
                key=relative_key,
            )
        return data, info

    def get_range(self, relative_key: str, start: int, end: int, etag: str) -> bytes:
        """Bytes ``[start, end)``, refused if the object is no longer version ``etag``."""
        _, data = self._read_whole(
            relative_key,
            action="reading a range of",
            Range=f"bytes={start}-{end - 1}",
            IfMatch=etag,
        )
        return data

    def _read_whole(
        self, relative_key: str, action: str = "reading", **request: Any
    ) -> tuple[dict[str, Any], bytes]:
        """GET and read the body, retrying a body cut off in transfer (botocore has
        already retried the request itself); any other failure raises at once."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                response = self._client.get_object(
                    Bucket=self.bucket, Key=self.location.key(relative_key), **request
                )
                return response, bytes(response["Body"].read())
            except ClientError as error:
                if _error_code(error) == "AccessDenied" and self._absent(relative_key):
                    raise ObjectMissingError(
                        f"{action} {self.uri(relative_key)} failed: {_LIKELY_FIX['NoSuchKey']}",
                        bucket=self.bucket,
                        key=relative_key,
                    ) from None
                raise self._fail(error, relative_key, action) from None
            except _CUT_OFF as error:
                if attempt == READ_ATTEMPTS:
                    failure = self._fail(error, relative_key, action)
                    raise type(failure)(
                        f"{failure} (gave up after {attempt} attempts)",
                        bucket=self.bucket,
                        key=relative_key,
                    ) from None
                log.warning(
                    "reading %s failed in transfer (%s); retrying", self.uri(relative_key), error
                )
                time.sleep(0.1 * 2**attempt * (0.5 + random.random()))
            except BotoCoreError as error:
                raise self._fail(error, relative_key, action) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def put_bytes(
        self,
        relative_key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo:
        self.check_bucket()
        if if_match is not None or if_none_match:
            self.verify_conditional_writes(relative_key)
        digest = md5_hex(data)
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.location.key(relative_key),
            "Body": data,
            "ContentMD5": _content_md5(data),
            "ContentType": content_type,
            "Metadata": {MD5_METADATA_KEY: digest},
        }
        if if_match is not None:
            request["IfMatch"] = if_match
        if if_none_match:
            request["IfNoneMatch"] = "*"
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                response = self._client.put_object(**request)
                break
            except ClientError as error:
                failure = self._fail(error, relative_key, "writing")
                if _error_code(error) != "BadDigest":
                    raise failure from None
                if attempt == WRITE_ATTEMPTS:
                    raise type(failure)(
                        f"{failure} (gave up after {attempt} attempts)",
                        bucket=self.bucket,
                        key=relative_key,
                    ) from None
                # S3 stored nothing: the bytes were altered on the way, not here.
                # Sending them again, with the same conditions, is a first attempt.
                log.warning("%s; sending it again", failure)
            except BotoCoreError as error:
                raise self._fail(error, relative_key, "writing") from None
        return ObjectInfo(
            key=relative_key,
            size=len(data),
            etag=str(response["ETag"]),
            last_modified=dt.datetime.now(dt.UTC),
            md5=digest,
        )

    def put_if_changed(self, relative_key: str, data: bytes) -> tuple[ObjectInfo, bool]:
        """Write unless S3 already holds these exact bytes, so that a re-run leaves the
        object (and its update time in the manifest) alone."""
        existing = self.head(relative_key)
        if existing is not None and existing.md5 == md5_hex(data):
            return existing, False
        return self.put_bytes(relative_key, data), True

    def delete(self, relative_key: str) -> None:
        self.check_bucket()
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self.location.key(relative_key))
        except ClientError as error:
            raise self._fail(error, relative_key, "deleting") from None
        except BotoCoreError as error:
            raise self._fail(error, relative_key, "deleting") from None

    def list(self, relative_prefix: str = "") -> list[ObjectInfo]:
        """Objects under the prefix (without metadata; ``md5`` is None here)."""
        self.check_bucket()
        found: list[ObjectInfo] = []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=self.location.key(relative_prefix)
            ):
                for item in page.get("Contents", []):
                    found.append(
                        ObjectInfo(
                            key=self.location.relative(item["Key"]),
                            size=int(item["Size"]),
                            etag=str(item["ETag"]),
                            last_modified=item["LastModified"],
                            md5=None,
                        )
                    )
        except ClientError as error:
            raise self._fail(error, relative_prefix, "listing") from None
        except BotoCoreError as error:
            raise self._fail(error, relative_prefix, "listing") from None
        return found

    # -- read-modify-write ----------------------------------------------------------

    def compare_and_swap(
        self,
        relative_key: str,
        update: Callable[[bytes | None], bytes | None],
        *,
        attempts: int = CAS_ATTEMPTS,
        content_type: str = "application/octet-stream",
        verify_md5: bool = True,
    ) -> ObjectInfo | None:
        """Apply ``update`` to the current bytes (None when absent) and write the result
        only if nobody wrote in between; retry with fresh bytes when someone did.

        ``update`` returning None means "nothing to change": no write happens and the
        current object's info (or None) is returned.
        """
        for attempt in range(attempts):
            # The ETag comes with the bytes, so the swap is conditioned on exactly
            # the version the update saw.
            current: ObjectInfo | None
            try:
                data, current = self.get_bytes(relative_key, verify_md5=verify_md5)
            except ObjectMissingError:
                data, current = None, None
            new_data = update(data)
            if new_data is None:
                return current
            try:
                if current is None:
                    return self.put_bytes(
                        relative_key, new_data, if_none_match=True, content_type=content_type
                    )
                return self.put_bytes(
                    relative_key, new_data, if_match=current.etag, content_type=content_type
                )
            except PreconditionFailedError:
                time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        raise ConcurrentUpdateError(
            f"gave up writing {self.uri(relative_key)} after {attempts} attempts: other writers "
            "kept changing it; run again",
            bucket=self.bucket,
            key=relative_key,
        )

    # -- parquet --------------------------------------------------------------------

    def read_parquet(self, relative_key: str, schema: pa.Schema | None = None) -> pa.Table:
        data, _ = self.get_bytes(relative_key)
        return self.decode_parquet(relative_key, data, schema)

    def decode_parquet(
        self, relative_key: str, data: bytes, schema: pa.Schema | None = None
    ) -> pa.Table:
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError) as error:
            raise self._unreadable(relative_key, error) from None
        if schema is not None:
            require_schema(table, schema, self.uri(relative_key))
        return table

    def write_parquet(
        self,
        relative_key: str,
        table: pa.Table,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        return self.put_bytes(
            relative_key,
            encode_parquet(table),
            if_match=if_match,
            if_none_match=if_none_match,
        )

    def read_parquet_rows(
        self,
        relative_key: str,
        *,
        columns: list[str],
        filters: list[tuple[str, str, Any]],
    ) -> pa.Table | None:
        """Only the rows matching ``filters``, reading just the row groups whose
        statistics admit them; None when the object does not exist."""
        reader = self.ranged_reader(relative_key)
        if reader is None:
            return None
        parquet = self._open_parquet(relative_key, reader)
        missing = [name for name in columns if name not in parquet.schema_arrow.names]
        if missing:
            raise SchemaMismatchError(
                f"{self.uri(relative_key)} lacks column(s) {', '.join(missing)}"
            )
        # The same reader, so both reads see one version of the object.
        reader.seek(0)
        try:
            return pq.read_table(reader, columns=columns, filters=filters)
        except (pa.ArrowException, OSError) as error:
            raise self._unreadable(relative_key, error) from None

    def ranged_reader(self, relative_key: str) -> RangedObjectReader | None:
        """A seekable file over the current version of the object; None when absent."""
        info = self.head(relative_key)
        if info is None:
            return None
        if info.size == 0:
            raise CorruptObjectError(
                f"{self.uri(relative_key)} is empty (0 bytes); restore it from a backup",
                bucket=self.bucket,
                key=relative_key,
            )
        return RangedObjectReader(self, relative_key, info)

    def parquet_file(self, relative_key: str) -> pq.ParquetFile | None:
        """A ParquetFile reading footer and column chunks by ranged GETs, pinned to one
        version of the object so that a concurrent replace cannot mix bytes."""
        reader = self.ranged_reader(relative_key)
        if reader is None:
            return None
        return self._open_parquet(relative_key, reader)

    def _open_parquet(self, relative_key: str, reader: RangedObjectReader) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(reader)
        except (pa.ArrowException, OSError) as error:
            raise self._unreadable(relative_key, error) from None


# Bounded row groups let a reader fetch one date's rows without the rest.
ROW_GROUP_SIZE = 4096


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


class RangedObjectReader(io.RawIOBase):
    """A seekable, read-only file over one version of an S3 object."""

    def __init__(self, store: S3Store, relative_key: str, info: ObjectInfo) -> None:
        super().__init__()
        self._store = store
        self._key = relative_key
        self._info = info
        self._position = 0
        self.bytes_fetched = 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._info.size}
        self._position = max(0, base[whence] + offset)
        return self._position

    def size(self) -> int:
        return self._info.size

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self._info.size, self._position + len(view))
        if end <= self._position:
            return 0
        data = self._store.get_range(self._key, self._position, end, self._info.etag)
        self.requests += 1
        self.bytes_fetched += len(data)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)
