"""Objects in one bucket and prefix: head, get, put, delete and list, with bounded retries.

Every upload carries ``Content-MD5`` (so S3 rejects bytes altered in flight) and the
same MD5 in object metadata (so readers and the manifest get the MD5 of the bytes,
never a multipart ETag). Conditional writes (``If-None-Match: *``, ``If-Match``) are
made only after the store proved it enforces them (:mod:`.conditional`).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from grok_assets.layout import Location
from grok_assets.storage.conditional import ConditionalWriteProbe
from grok_assets.storage.digest import MD5_METADATA_KEY, content_md5, md5_hex
from grok_assets.storage.errors import (
    LIKELY_FIX,
    AccessDeniedError,
    CorruptObjectError,
    NoSuchBucketError,
    ObjectMissingError,
    PreconditionFailedError,
    StorageError,
    TransferInterruptedError,
    UploadAlteredError,
    translating,
)

# botocore retries a request until its response headers arrive; a body cut off after
# that (a reset mid-transfer) reaches the caller, so whole-object reads, which are
# idempotent, are retried here a bounded number of times.
READ_ATTEMPTS = 3
# An upload S3 rejected for a Content-MD5 mismatch (BadDigest) stored nothing and is
# sent again, a bounded number of times.
WRITE_ATTEMPTS = 3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: dt.datetime
    md5: str | None


class S3Store:
    """One bucket and prefix of S3, addressed by keys relative to the prefix."""

    def __init__(
        self, client: Any, location: Location, *, allow_unconditional: bool = False
    ) -> None:
        self.client = client
        self.location = location
        self._bucket_checked = False
        self._conditional = ConditionalWriteProbe(self, allow_unconditional=allow_unconditional)

    @property
    def bucket(self) -> str:
        return self.location.bucket

    @property
    def endpoint_url(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", None) or "the default AWS endpoint")

    def uri(self, relative_key: str) -> str:
        return self.location.uri(relative_key)

    def translating(self, action: str, relative_key: str | None) -> AbstractContextManager[None]:
        """Botocore failures inside the block as StorageErrors naming this object."""
        where = self.uri(relative_key) if relative_key is not None else f"s3://{self.bucket}"
        return translating(action, bucket=self.bucket, key=relative_key, where=where)

    def check_bucket(self) -> None:
        """Fail clearly on a missing bucket. Only a HEAD needs this: its 404 has no body,
        so a missing bucket would look like a missing object, "nothing published yet".
        Every other request names NoSuchBucket itself, so the happy path costs no
        extra request."""
        if self._bucket_checked:
            return
        try:
            with self.translating("checking bucket", None):
                # A listing under the prefix rather than HeadBucket: HeadBucket needs
                # s3:ListBucket on the whole bucket, which a grant limited to the
                # prefix (docs/iam-policy.json) does not give.
                self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=self.location.prefix, MaxKeys=1
                )
        except (NoSuchBucketError, ObjectMissingError):
            raise NoSuchBucketError(
                f"bucket s3://{self.bucket} does not exist: check S3_BUCKET and AWS_ENDPOINT_URL",
                bucket=self.bucket,
                key=None,
            ) from None
        self._bucket_checked = True

    def verify_conditional_writes(self, for_key: str | None = None) -> None:
        self._conditional.ensure(for_key)

    # -- reading ----------------------------------------------------------------------

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
        try:
            with self.translating("reading metadata of", relative_key):
                response = self.client.head_object(
                    Bucket=self.bucket, Key=self.location.key(relative_key)
                )
        except ObjectMissingError:
            self.check_bucket()
            return None
        except AccessDeniedError:
            self.check_bucket()
            if self._absent(relative_key):
                return None
            raise
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
            with self.translating("listing", relative_key):
                response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        except StorageError:
            return False
        return not any(item.get("Key") == key for item in response.get("Contents", []))

    def exists(self, relative_key: str) -> bool:
        return self.head(relative_key) is not None

    def get_bytes(self, relative_key: str, *, verify_md5: bool = True) -> tuple[bytes, ObjectInfo]:
        """Whole object, verified against the MD5 recorded at upload when there is one
        (``verify_md5=False`` only for code that must handle corrupt bytes itself,
        such as a restore replacing them)."""
        for _ in range(READ_ATTEMPTS - 1):
            response, data = self._read(relative_key)
            info = self._info(relative_key, response)
            if not verify_md5 or info.md5 is None or md5_hex(data) == info.md5:
                break
            # Bytes altered on the way to us read differently the next time; bytes
            # stored corrupt do not, and are refused below.
            log.warning(
                "%s did not match its recorded MD5; reading it again", self.uri(relative_key)
            )
        else:
            response, data = self._read(relative_key)
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

    def get_tail(self, relative_key: str, length: int) -> tuple[ObjectInfo, bytes] | None:
        """The object's last ``length`` bytes (all of it when smaller) and its info, in
        one request; None when the object does not exist."""
        try:
            response, data = self._read(
                relative_key, action="reading the end of", Range=f"bytes=-{length}"
            )
        except ObjectMissingError:
            return None
        except StorageError as error:
            if error.code != "InvalidRange":
                raise
            # S3 refuses any range of an empty object; its head says the rest.
            info = self.head(relative_key)
            return None if info is None else (info, b"")
        return self._info(relative_key, response), data

    def get_range(self, relative_key: str, start: int, end: int, etag: str) -> bytes:
        """Bytes ``[start, end)``, refused if the object is no longer version ``etag``."""
        _, data = self._read(
            relative_key,
            action="reading a range of",
            Range=f"bytes={start}-{end - 1}",
            IfMatch=etag,
        )
        return data

    def _read(
        self, relative_key: str, action: str = "reading", **request: Any
    ) -> tuple[dict[str, Any], bytes]:
        """GET and read the body, retrying a body cut off in transfer (botocore has
        already retried the request itself); any other failure raises at once."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                with self.translating(action, relative_key):
                    response = self.client.get_object(
                        Bucket=self.bucket, Key=self.location.key(relative_key), **request
                    )
                    return response, bytes(response["Body"].read())
            except AccessDeniedError:
                if self._absent(relative_key):
                    raise ObjectMissingError(
                        f"{action} {self.uri(relative_key)} failed: {LIKELY_FIX['NoSuchKey']}",
                        bucket=self.bucket,
                        key=relative_key,
                    ) from None
                raise
            except TransferInterruptedError as error:
                if attempt == READ_ATTEMPTS:
                    raise TransferInterruptedError(
                        f"{error} (gave up after {attempt} attempts)",
                        bucket=self.bucket,
                        key=relative_key,
                    ) from None
                log.warning("%s; retrying", error)
                time.sleep(0.1 * 2**attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    # -- writing ----------------------------------------------------------------------

    def put_bytes(
        self,
        relative_key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo:
        if if_match is not None or if_none_match:
            self.verify_conditional_writes(relative_key)
        digest = md5_hex(data)
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.location.key(relative_key),
            "Body": data,
            "ContentMD5": content_md5(data),
            "ContentType": content_type,
            "Metadata": {MD5_METADATA_KEY: digest},
        }
        if if_match is not None:
            request["IfMatch"] = if_match
        if if_none_match:
            request["IfNoneMatch"] = "*"
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self.translating("writing", relative_key):
                    response = self.client.put_object(**request)
                break
            except UploadAlteredError as error:
                if attempt == WRITE_ATTEMPTS:
                    raise UploadAlteredError(
                        f"{error} (gave up after {attempt} attempts)",
                        bucket=self.bucket,
                        key=relative_key,
                    ) from None
                # S3 stored nothing: the bytes were altered on the way, not here.
                # Sending them again, with the same conditions, is a first attempt.
                log.warning("%s; sending it again", error)
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

    def record_md5(self, relative_key: str, etag: str) -> ObjectInfo:
        """Give an object another writer uploaded the MD5 metadata this project's objects
        carry, leaving its bytes as they are: a copy onto itself with the metadata
        replaced, refused (412) if the object changed since ``etag``."""
        data, info = self.get_bytes(relative_key, verify_md5=False)
        if info.etag != etag:
            raise PreconditionFailedError(
                f"{self.uri(relative_key)} changed since it was inspected; nothing was written",
                bucket=self.bucket,
                key=relative_key,
            )
        digest = md5_hex(data)
        key = self.location.key(relative_key)
        with self.translating("recording the MD5 of", relative_key):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            response = self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                CopySourceIfMatch=etag,
                MetadataDirective="REPLACE",
                Metadata={**(head.get("Metadata") or {}), MD5_METADATA_KEY: digest},
                ContentType=head.get("ContentType") or "application/octet-stream",
            )
        result = response.get("CopyObjectResult", {})
        return ObjectInfo(
            key=relative_key,
            size=len(data),
            etag=str(result.get("ETag", etag)),
            last_modified=result.get("LastModified", info.last_modified),
            md5=digest,
        )

    def delete(self, relative_key: str) -> None:
        with self.translating("deleting", relative_key):
            self.client.delete_object(Bucket=self.bucket, Key=self.location.key(relative_key))

    def list(self, relative_prefix: str = "") -> list[ObjectInfo]:
        """Objects under the prefix (without metadata; ``md5`` is None here)."""
        found: list[ObjectInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        with self.translating("listing", relative_prefix):
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=self.location.key(relative_prefix)
            ):
                found.extend(
                    ObjectInfo(
                        key=self.location.relative(item["Key"]),
                        size=int(item["Size"]),
                        etag=str(item["ETag"]),
                        last_modified=item["LastModified"],
                        md5=None,
                    )
                    for item in page.get("Contents", [])
                )
        return found
