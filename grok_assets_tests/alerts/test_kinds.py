"""Which failures a retry can cure: the project's errors as their own code raises them."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ResponseStreamingError,
)

from grok_assets.alerts.kinds import FailureKind, classify, is_transient
from grok_assets.backup.archive import ArchiveIntegrityError
from grok_assets.backup.publish import GateClosedError, PublishConflictError
from grok_assets.selection.answer import ModelAnswerError
from grok_assets.settings import MissingSettingError
from grok_assets.storage import StorageError
from grok_assets.storage.errors import translating


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


def storage_failure(botocore_error: Exception) -> StorageError:
    """``botocore_error`` as the store reports it: through ``translating``."""
    try:
        with translating("writing", bucket="b", key="k", where="s3://b/k"):
            raise botocore_error
    except StorageError as error:
        return error
    raise AssertionError("translating did not translate")


@pytest.mark.parametrize(
    "botocore_error",
    [
        _client_error("InternalError", 500),
        _client_error("SlowDown", 503),
        _client_error("ServiceUnavailable", 503),
        _client_error("503", 503),  # a HEAD answer has no body: only its status
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ResponseStreamingError(error="reset mid-body"),
        _client_error("BadDigest", 400),  # altered in flight: nothing was stored
    ],
    ids=["500", "slowdown", "unavailable", "head-503", "unreachable", "cut-off", "bad-digest"],
)
def test_busy_unreachable_or_cut_off_s3_is_transient(botocore_error: Exception) -> None:
    error = storage_failure(botocore_error)
    assert classify(error) is FailureKind.TRANSIENT
    assert is_transient(error)


@pytest.mark.parametrize(
    ("botocore_error", "kind"),
    [
        (_client_error("AccessDenied", 403), FailureKind.CONFIGURATION),
        (_client_error("NoSuchBucket", 404), FailureKind.CONFIGURATION),
        (_client_error("PreconditionFailed", 412), FailureKind.REFUSED_WRITE),
        (_client_error("NoSuchKey", 404), FailureKind.BAD_DATA),
        (_client_error("InvalidRange", 416), FailureKind.BAD_DATA),
        (NoCredentialsError(), FailureKind.CONFIGURATION),
    ],
    ids=["denied", "no-bucket", "precondition", "missing", "invalid-range", "no-credentials"],
)
def test_s3_refusals_are_permanent(botocore_error: Exception, kind: FailureKind) -> None:
    error = storage_failure(botocore_error)
    assert classify(error) is kind
    assert not is_transient(error)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (GateClosedError("gate closed", published_date="2026-11-20", findings=[]), "gate_closed"),
        (PublishConflictError("another run published"), "publish_conflict"),
        (ArchiveIntegrityError("another date would change"), "refused_write"),
        (ModelAnswerError("item 3 has no reason"), "invalid_model_answer"),
        (MissingSettingError("S3_BUCKET is not set"), "configuration"),
        (KeyError("a bug"), "unexpected"),
    ],
)
def test_the_pipelines_own_refusals_are_permanent(error: Exception, kind: str) -> None:
    assert classify(error).value == kind
    assert not is_transient(error)


def test_a_failed_model_request_is_not_retried_by_the_step() -> None:
    # The SDK has retried it already; every attempt repeats a paid request.
    from grok_assets.selection.xai import XaiSelectionError

    error = XaiSelectionError(
        "xAI model grok-4.3 failed after 2 attempt(s): HTTP 503",
        kind="server_error",
        model="grok-4.3",
        attempts=2,
        status_code=503,
    )
    assert classify(error) is FailureKind.MODEL_REQUEST
    assert not is_transient(error)


def test_a_storage_error_without_its_cause_is_not_guessed_transient() -> None:
    # Built by hand, with neither an S3 code nor a network error behind it.
    assert not is_transient(StorageError("odd", bucket="b", key="k"))
