"""A failed run, as the alert needs it: plain values read from the run's events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Metadata values as the alert reads them (Dagster's MetadataValue unwrapped).
Value = str | int | float | bool | None


@dataclass(frozen=True)
class FailedCheck:
    """An ERROR-severity check that did not pass."""

    asset: str
    check: str
    description: str
    metadata: Mapping[str, Value] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        value = self.metadata.get(name)
        return None if value is None else str(value)

    def number(self, name: str) -> int | None:
        value = self.metadata.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class FailedStep:
    """A step that failed for a reason other than a failed blocking check."""

    step: str
    # The grok_assets.alerts.kinds.FailureKind the step recorded; None for an error the
    # project did not classify (a transient one whose retries ran out, or a bug).
    kind: str | None
    error: str  # the exception's class name
    message: str  # one line or a few: what the step said, never its traceback
    attempts: int = 1
    metadata: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFailure:
    job: str
    run_id: str
    partition: str | None
    checks: tuple[FailedCheck, ...] = ()
    steps: tuple[FailedStep, ...] = ()
