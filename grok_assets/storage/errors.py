"""The storage error tree, and the one place S3 failures become it.

Every failure names the object (``s3://bucket/key``), the likely fix and, where S3
gave one, its request id, which is what a support case with the store's operator
needs. ``StorageError`` is a ``RuntimeError``, deliberately outside the ``OSError``
family: parquet readers treat ``OSError`` as "the bytes are not parquet", and an
access denied in the middle of a read must never be reported as a corrupt file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)


class StorageError(RuntimeError):
    """An S3 operation failed; the message names the object and the likely fix."""

    def __init__(
        self,
        message: str,
        *,
        bucket: str,
        key: str | None,
        request_id: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.request_id = request_id
        # S3's error code (e.g. "InvalidRange"), when S3 answered with one.
        self.code = code


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


class UploadAlteredError(CorruptObjectError):
    """S3 refused an upload whose bytes did not match their Content-MD5 (BadDigest):
    nothing was stored, so sending the same bytes again is safe."""


class TransferInterruptedError(StorageError):
    """A response body broke off or changed in transfer after botocore's own retries;
    an idempotent read may simply be repeated."""


class UnconditionalStoreError(StorageError):
    """The endpoint accepts conditional writes without enforcing them."""


LIKELY_FIX = {
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

_CLASS_BY_CODE: dict[str, type[StorageError]] = {
    "NoSuchBucket": NoSuchBucketError,
    "AccessDenied": AccessDeniedError,
    "InvalidAccessKeyId": AccessDeniedError,
    "SignatureDoesNotMatch": AccessDeniedError,
    "ExpiredToken": AccessDeniedError,
    "PreconditionFailed": PreconditionFailedError,
    "NoSuchKey": ObjectMissingError,
    "BadDigest": UploadAlteredError,
}

# A body that broke or changed in transfer after botocore's own retries were over.
_CUT_OFF = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, FlexibleChecksumError)


# S3 error codes (and bare HTTP statuses, for HEAD answers) that mean "busy, try later".
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "500",
        "502",
        "503",
        "504",
    }
)
# botocore's own exceptions for a network that failed, kept as the StorageError's
# __context__ by :func:`translating` (``from None`` hides it from tracebacks only).
_NETWORK_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    HTTPClientError,
)


def is_transient(error: StorageError) -> bool:
    """Whether the same request, sent again a little later, may succeed: S3 busy,
    unreachable or cut off. Everything else (a refusal, a missing object, bad bytes)
    would fail again."""
    if isinstance(error, TransferInterruptedError | UploadAlteredError):
        # A body cut off, or an upload S3 refused for a Content-MD5 mismatch: nothing
        # was stored or decided, so the same request may simply be sent again.
        return True
    if error.code is not None:
        return error.code in TRANSIENT_CODES
    return isinstance(error.__context__, _NETWORK_ERRORS)


def error_code(error: ClientError) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    # HEAD responses have no body, so only the status tells what went wrong.
    by_status = {403: "AccessDenied", 404: "NoSuchKey", 412: "PreconditionFailed"}
    if code.isdigit() or not code:
        return by_status.get(int(code) if code.isdigit() else status or 0, code or str(status))
    return code


def request_id(error: ClientError) -> str | None:
    metadata = error.response.get("ResponseMetadata", {})
    found = metadata.get("RequestId") or metadata.get("HTTPHeaders", {}).get("x-amz-request-id")
    return str(found) if found else None


def storage_error(
    error: Exception, *, action: str, bucket: str, key: str | None, where: str
) -> StorageError:
    """``error`` from botocore as the StorageError an operator can act on."""
    if isinstance(error, ClientError):
        code = error_code(error)
        found_id = request_id(error)
        fix = LIKELY_FIX.get(code, f"S3 answered {code}")
        suffix = f" (S3 request id {found_id})" if found_id else ""
        cls = _CLASS_BY_CODE.get(code, StorageError)
        return cls(
            f"{action} {where} failed: {fix}{suffix}",
            bucket=bucket,
            key=key,
            request_id=found_id,
            code=code,
        )
    if isinstance(error, _CUT_OFF):
        return TransferInterruptedError(
            f"{action} {where} failed in transfer: {type(error).__name__}: {error}",
            bucket=bucket,
            key=key,
        )
    if isinstance(error, EndpointConnectionError):
        return StorageError(
            f"{action} {where} failed: cannot reach the S3 endpoint ({error}); "
            "check AWS_ENDPOINT_URL and the network",
            bucket=bucket,
            key=key,
        )
    return StorageError(
        f"{action} {where} failed: {type(error).__name__}: {error}", bucket=bucket, key=key
    )


@contextmanager
def translating(action: str, *, bucket: str, key: str | None, where: str) -> Iterator[None]:
    """Turn any botocore failure inside the block into a :class:`StorageError`.

    ``from None``: the botocore exception carries the request, which a reporter that
    walks ``__cause__`` would print whole.
    """
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise storage_error(error, action=action, bucket=bucket, key=key, where=where) from None


def unreadable_parquet(where: str, why: object, *, bucket: str, key: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"{where} is not a readable parquet file ({why}); restore it from a backup or "
        "rebuild it, do not overwrite it blindly",
        bucket=bucket,
        key=key,
    )
