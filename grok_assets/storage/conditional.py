"""Conditional writes: proving the store enforces them, and compare-and-swap on them.

``If-None-Match: *`` (write-once) and ``If-Match: <etag>`` (read-modify-write) only
protect anything if the store enforces them, and some S3-compatible servers accept
both headers and silently ignore them. So before its first conditional write each
store probes once that the endpoint answers 412 where it must, and refuses to go on
otherwise, unless the operator opted out (``allow_unconditional``, from
``GROK_ALLOW_UNCONDITIONAL_STORE=1``).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grok_assets import layout
from grok_assets.storage.digest import content_md5, md5_hex
from grok_assets.storage.errors import (
    ConcurrentUpdateError,
    ObjectMissingError,
    PreconditionFailedError,
    StorageError,
    UnconditionalStoreError,
)

if TYPE_CHECKING:
    from grok_assets.storage.store import ObjectInfo, S3Store

CAS_ATTEMPTS = 6
# A probe older than this was left by a killed process; the next probe removes it.
STALE_PROBE_AGE = dt.timedelta(minutes=10)
ALLOW_UNCONDITIONAL_SETTING = "GROK_ALLOW_UNCONDITIONAL_STORE"

log = logging.getLogger(__name__)


class ConditionalWriteProbe:
    """Proves once per store that the endpoint enforces ``If-None-Match`` and ``If-Match``.

    Writes a probe object, then tries to overwrite it with ``If-None-Match: *`` and
    with ``If-Match`` on a wrong ETag: both must be refused (412). A store that accepts
    either would let two writers overwrite each other and a selection replace one that
    is not backed up, so it is refused with :class:`UnconditionalStoreError` unless
    ``allow_unconditional``.
    """

    def __init__(self, store: S3Store, *, allow_unconditional: bool) -> None:
        self._store = store
        self._allow_unconditional = allow_unconditional
        self._checked = False
        # Threads sharing one store must not probe in parallel.
        self._lock = threading.Lock()

    def ensure(self, for_key: str | None = None) -> None:
        """``for_key`` is the write that needs the guarantee: infrastructure errors
        during the probe are reported against it, as that write would have been."""
        if self._checked:
            return
        with self._lock:
            if self._checked:
                return
            ignored = self._probe(for_key)
            if ignored:
                self._refuse_or_warn(ignored)
            self._checked = True

    def _probe(self, for_key: str | None) -> list[str]:
        """The conditions the endpoint ignored (empty when it enforces both)."""
        store = self._store
        relative_key = f"{layout.PROBE_DIR}{uuid.uuid4().hex}"
        key = store.location.key(relative_key)
        blamed = for_key if for_key is not None else relative_key
        body = b"conditional-write probe; deleted right after the probe\n"
        wrong_etag = '"' + md5_hex(b"certainly not the probe's bytes") + '"'
        request = {
            "Bucket": store.bucket,
            "Key": key,
            "Body": body,
            "ContentMD5": content_md5(body),
        }
        ignored: list[str] = []
        try:
            with store.translating("writing", blamed):
                store.client.put_object(**request)
            for name, condition in (
                ("If-None-Match: *", {"IfNoneMatch": "*"}),
                ("If-Match: <wrong ETag>", {"IfMatch": wrong_etag}),
            ):
                try:
                    with store.translating("writing", blamed):
                        store.client.put_object(**request, **condition)
                except PreconditionFailedError:
                    continue
                ignored.append(name)
        finally:
            self._remove_probes(key)
        return ignored

    def _remove_probes(self, own_key: str) -> None:
        """Delete this probe and any a killed process left behind; best effort, since
        a leftover probe is harmless (never parquet, never in the manifest)."""
        store = self._store
        stale_before = dt.datetime.now(dt.UTC) - STALE_PROBE_AGE
        try:
            with store.translating("deleting", own_key):
                store.client.delete_object(Bucket=store.bucket, Key=own_key)
                listed = store.client.list_objects_v2(
                    Bucket=store.bucket, Prefix=store.location.key(layout.PROBE_DIR)
                )
                for item in listed.get("Contents", []):
                    if item["LastModified"] < stale_before:
                        store.client.delete_object(Bucket=store.bucket, Key=item["Key"])
        except StorageError as error:
            log.warning("could not delete the probe object %s: %s", own_key, error)

    def _refuse_or_warn(self, ignored: list[str]) -> None:
        store = self._store
        what = " and ".join(ignored)
        problem = (
            f"the S3 endpoint {store.endpoint_url} (bucket s3://{store.bucket}) accepted a "
            f"write with {what} that it must refuse with 412 Precondition Failed: it does not "
            "enforce conditional writes, so concurrent writers could overwrite each other's "
            "updates and a new selection could replace one that is not backed up"
        )
        if self._allow_unconditional:
            log.warning(
                "!!! %s. Continuing only because %s=1 is set: the pipeline's "
                "compare-and-swap and write-once protections are NOT in force. !!!",
                problem,
                ALLOW_UNCONDITIONAL_SETTING,
            )
            return
        raise UnconditionalStoreError(
            f"{problem}. Use a store that enforces If-Match and If-None-Match (AWS S3 "
            f"does), or set {ALLOW_UNCONDITIONAL_SETTING}=1 to run without these protections "
            "at your own risk",
            bucket=store.bucket,
            key=None,
        )


def compare_and_swap(
    store: S3Store,
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
        # The ETag comes with the bytes, so the swap is conditioned on exactly the
        # version the update saw.
        current: ObjectInfo | None
        try:
            data, current = store.get_bytes(relative_key, verify_md5=verify_md5)
        except ObjectMissingError:
            data, current = None, None
        new_data = update(data)
        if new_data is None:
            return current
        condition: dict[str, Any] = (
            {"if_none_match": True} if current is None else {"if_match": current.etag}
        )
        try:
            return store.put_bytes(relative_key, new_data, content_type=content_type, **condition)
        except PreconditionFailedError:
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise ConcurrentUpdateError(
        f"gave up writing {store.uri(relative_key)} after {attempts} attempts: other writers "
        "kept changing it; run again",
        bucket=store.bucket,
        key=relative_key,
    )
