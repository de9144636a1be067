"""The step retry policy, and the one place a step's failure is judged retryable.

Every asset, check and op that touches S3 carries :data:`STEP_RETRY_POLICY`, so it
applies however the step runs (schedule, UI, CLI). Dagster's policy retries any
exception; a step body therefore runs inside :func:`retried_only_when_transient`,
which lets transient failures through to the policy and turns every other failure
into a ``Failure(allow_retries=False)`` carrying its kind (:mod:`grok_assets.alerts.kinds`)
for the alert.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    Backoff,
    Failure,
    OpExecutionContext,
    RetryPolicy,
)

from grok_assets.alerts.kinds import FailureKind, classify

# boto3 has already retried each request 5 times (about 15 s of backoff) before a
# step sees a failure, so a step retry is for outages longer than that: 15, 45 and
# 105 s later. A selection delayed by the worst case still publishes by 23:05,
# well before its 23:30 deadline.
STEP_RETRY_POLICY = RetryPolicy(max_retries=3, delay=15, backoff=Backoff.EXPONENTIAL)

# The metadata key under which a step failure records its kind (read by the alert).
FAILURE_KIND = "failure_kind"

# A run launched with this tag fails at its first failure, a transient one included:
# for watching an outage rather than riding it out. The fault-injection tests use it
# to meet each fault exactly once (Dagster's in-process executor, which they run on,
# ignores the executor's own `retries: disabled` setting).
STEP_RETRIES_TAG = "grok/step_retries"
NO_STEP_RETRIES = {STEP_RETRIES_TAG: "off"}

StepContext = AssetExecutionContext | AssetCheckExecutionContext | OpExecutionContext


@contextmanager
def retried_only_when_transient(context: StepContext) -> Iterator[None]:
    """Around a step's body: transient failures propagate as they are (the retry
    policy runs the step again); anything else fails the step for good."""
    try:
        yield
    except Failure:
        raise
    except Exception as error:
        kind = classify(error)
        if kind is FailureKind.TRANSIENT and context.run.tags.get(STEP_RETRIES_TAG) != "off":
            raise
        # ``from error``: the original traceback stays in the event log for whoever
        # debugs it; the description is what the UI and the alert show.
        raise Failure(
            description=f"{type(error).__name__}: {error}",
            metadata={FAILURE_KIND: kind.value, "error": type(error).__name__},
            allow_retries=False,
        ) from error
