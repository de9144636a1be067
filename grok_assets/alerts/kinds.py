"""Which failures a retry can cure, and what kind of failure each one is.

One rule serves two readers: the step retry policy (``defs/retries.py``) retries only
what :func:`is_transient` accepts, and the alert (``alerts/``) names the fix by the
:class:`FailureKind` recorded with the failure. Everything not known to be transient
is permanent: retrying a closed gate, a refused write, an invalid model answer or a
bug changes nothing, and re-asking the model costs a paid request each time.

Plain Python and free of Dagster. Whether a storage failure is transient is storage's
own rule (:func:`grok_assets.storage.errors.is_transient`); this module gives every
failure of the project's layers its kind.
"""

from __future__ import annotations

import enum
import sys

from botocore.exceptions import (
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from grok_assets.backup.archive import ArchiveIntegrityError
from grok_assets.backup.gate import GateError
from grok_assets.backup.generations import InvalidGenerationError
from grok_assets.backup.manifest import ManifestError
from grok_assets.backup.publish import GateClosedError, PublishConflictError
from grok_assets.backup.restore import RestoreRefusedError
from grok_assets.schemas import SchemaMismatchError
from grok_assets.selection.answer import ModelAnswerError
from grok_assets.settings import SettingsError
from grok_assets.storage import (
    AccessDeniedError,
    ConcurrentUpdateError,
    CorruptObjectError,
    NoSuchBucketError,
    PreconditionFailedError,
    StorageError,
    UnconditionalStoreError,
)
from grok_assets.storage.errors import is_transient as storage_is_transient
from grok_assets.trading_calendar import CalendarHorizonError, NotATradingDayError
from grok_assets.upstream import UpstreamShapeError


class FailureKind(enum.StrEnum):
    """What went wrong, in the words an alert uses to say what fixes it."""

    TRANSIENT = "transient"  # S3 busy, unreachable or cut off: retried, then re-run
    GATE_CLOSED = "gate_closed"  # the published selection is not backed up
    PUBLISH_CONFLICT = "publish_conflict"  # another run published meanwhile
    REFUSED_WRITE = "refused_write"  # a write that would lose or overwrite data, refused
    INVALID_ANSWER = "invalid_model_answer"  # the model's answer is not a valid selection
    MODEL_REQUEST = "model_request_failed"  # the model's API failed after its own retries
    CONFIGURATION = "configuration"  # a setting, the bucket or the credentials
    BAD_DATA = "bad_data"  # an object in S3 is unreadable or not what it should be
    UNEXPECTED = "unexpected"  # anything else: most likely a bug


_SETUP_ERRORS = (NoCredentialsError, PartialCredentialsError, ProfileNotFound, NoRegionError)

_PERMANENT: tuple[tuple[tuple[type[BaseException], ...], FailureKind], ...] = (
    ((GateClosedError,), FailureKind.GATE_CLOSED),
    ((UpstreamShapeError,), FailureKind.BAD_DATA),
    ((PublishConflictError,), FailureKind.PUBLISH_CONFLICT),
    (
        (
            ArchiveIntegrityError,
            PreconditionFailedError,
            ConcurrentUpdateError,
            UnconditionalStoreError,
            RestoreRefusedError,
        ),
        FailureKind.REFUSED_WRITE,
    ),
    ((ModelAnswerError,), FailureKind.INVALID_ANSWER),
    ((AccessDeniedError, NoSuchBucketError, SettingsError), FailureKind.CONFIGURATION),
    (
        (
            CorruptObjectError,
            SchemaMismatchError,
            GateError,
            ManifestError,
            InvalidGenerationError,
            CalendarHorizonError,
            NotATradingDayError,
        ),
        FailureKind.BAD_DATA,
    ),
)


def _model_request_failed(error: BaseException) -> bool:
    # The xAI client is imported only by a live selection; without it loaded, no error
    # can be one of its own.
    xai = sys.modules.get("grok_assets.selection.xai")
    return xai is not None and isinstance(error, xai.XaiSelectionError)


def classify(error: BaseException) -> FailureKind:
    """The kind of ``error``, as raised by the project's own code."""
    if isinstance(error, StorageError) and storage_is_transient(error):
        return FailureKind.TRANSIENT
    for classes, kind in _PERMANENT:
        if isinstance(error, classes):
            return kind
    if _model_request_failed(error):
        # The SDK already retried 429, 5xx and timeouts (XAI_MAX_ATTEMPTS), and every
        # attempt repeats a paid request: a step retry would multiply them.
        return FailureKind.MODEL_REQUEST
    if isinstance(error, StorageError):
        if isinstance(error.__context__, _SETUP_ERRORS):
            return FailureKind.CONFIGURATION
        # S3 answered with a code no rule above knows (InvalidRange, say): about the
        # object, not the network.
        return FailureKind.BAD_DATA if error.code else FailureKind.UNEXPECTED
    return FailureKind.UNEXPECTED


def is_transient(error: BaseException) -> bool:
    """Whether running the same step again, a little later, may succeed."""
    return classify(error) is FailureKind.TRANSIENT
