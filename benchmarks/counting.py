"""Count what a boto3 S3 client transfers, through botocore's own event hooks.

The same counter is attached to the client used by our gate check and by the naive
full download, so both are measured identically: every S3 request made, and the body
bytes of every GetObject response (``Content-Length`` of the response, which for a
ranged GET is the length of the range).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TransferCounter:
    requests: int = 0
    bytes_received: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    # (operation, object key) of each call made, e.g. ("PutObject", "parquet/x.parquet")
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    enabled: bool = True

    def reset(self) -> None:
        self.requests = 0
        self.bytes_received = 0
        self.operations.clear()
        self.calls.clear()

    def _before_parameter_build(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.enabled:
            self.calls[(model.name, str(params.get("Key", "")))] += 1

    def _after_call(self, http_response: Any, model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        self.requests += 1
        self.operations[model.name] += 1
        if model.name == "GetObject":
            self.bytes_received += int(http_response.headers.get("Content-Length", 0))

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Leave set-up traffic (uploads, bucket creation) out of the counts."""
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True

    def attach(self, client: Any) -> TransferCounter:
        # after-call fires once per HTTP request that got a response, retries included.
        client.meta.events.register("after-call.s3", self._after_call)
        client.meta.events.register("before-parameter-build.s3", self._before_parameter_build)
        return self
