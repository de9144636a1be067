"""Archive generations: the archive as it was before each write, kept for a while.

The archive is the one object every backtest rewrites. The upsert proves no other
date's rows changed, but a bad write (wrong rows for the date, a bug, an operator
mistake) would still replace the only copy of years of history. So before every
write the previous bytes are copied, write-once, to

    backtest/archive_generations/grok_trending_archive_<UTC timestamp>_<md5[:8]>.parquet

and ``grok-assets restore --archive-generation ID`` brings one back after checking it.
The ID is ``<UTC timestamp>_<md5[:8]>``, e.g. ``20261124T070012345678Z_1a2b3c4d``.

Generations are parquet files under the prefix, so the manifest lists them and fsck
re-hashes them like any other file. They live outside the two key patterns retention
considers, so the 7-day retention of daily files never touches them; they are pruned
here instead: older than the retention window, but the newest few are always kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from grok_assets import layout
from grok_assets.backup.archive import ArchiveIntegrityError, as_archive_rows
from grok_assets.storage import (
    CorruptObjectError,
    ObjectMissingError,
    PreconditionFailedError,
    S3Store,
    decode_parquet,
    md5_hex,
)

RETENTION_DAYS = 7
# Kept whatever their age, so that a pipeline paused for weeks still has a way back.
KEEP_NEWEST = 3

_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Where "now" comes from when the caller gives none: the wall clock. A simulation
# (benchmarks/soak.py runs 250 trading days in minutes) replaces it so that the
# retention window is measured in simulated days.
clock: Callable[[], dt.datetime] = _utc_now


class InvalidGenerationError(ValueError):
    """A generation ID that is malformed, unknown, or names bytes that fail a check."""


@dataclass(frozen=True)
class Generation:
    id: str
    key: str
    created: dt.datetime  # when the archive it holds was replaced (UTC)
    md5_prefix: str
    size: int

    def line(self) -> str:
        return (
            f"{self.id}  {self.created.isoformat(timespec='seconds')}  {self.size:>10} bytes  "
            f"{self.key}"
        )


def generation_key(generation_id: str) -> str:
    return layout.generation_key(parse_generation_id(generation_id))


def parse_generation_id(text: str) -> str:
    """The ID itself, refusing anything else (a path, ``../x``, a bare date) by name."""
    candidate = text.strip()
    match = layout.GENERATION_ID.match(candidate)
    if match is None:
        raise InvalidGenerationError(
            f"{text!r} is not an archive generation ID; expected "
            "<YYYYMMDDTHHMMSSffffffZ>_<8 hex digits> as `grok-assets generations` lists them"
        )
    try:
        dt.datetime.strptime(match.group("stamp"), _TIMESTAMP_FORMAT)
    except ValueError:
        raise InvalidGenerationError(
            f"{text!r} does not hold a real UTC timestamp; it is not a generation ID"
        ) from None
    return candidate


def _from_key(relative_key: str, size: int) -> Generation | None:
    generation_id = layout.generation_id_of(relative_key)
    if generation_id is None:
        return None
    stamp, md5_prefix = generation_id.split("_")
    try:
        created = dt.datetime.strptime(stamp, _TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return Generation(generation_id, relative_key, created, md5_prefix, size)


def list_generations(store: S3Store) -> list[Generation]:
    """Every generation in S3, oldest first."""
    found = [_from_key(info.key, info.size) for info in store.list(layout.GENERATIONS_DIR)]
    return sorted((g for g in found if g is not None), key=lambda g: (g.created, g.id))


def keep_generation(
    store: S3Store, data: bytes, now: dt.datetime | None = None
) -> tuple[Generation, bool]:
    """Keep ``data`` (the archive about to be replaced) as a generation, write-once.

    Returns the generation and whether it was written now; bytes that some generation
    already holds are not copied again (a compare-and-swap retried after losing a race
    sees the same archive twice).
    """
    digest = md5_hex(data)
    for generation in reversed(list_generations(store)):
        if generation.md5_prefix == digest[:8] and generation.size == len(data):
            head = store.head(generation.key)
            if head is not None and head.md5 == digest:
                return generation, False
    moment = (now or clock()).astimezone(dt.UTC)
    generation_id = f"{moment.strftime(_TIMESTAMP_FORMAT)}_{digest[:8]}"
    key = generation_key(generation_id)
    try:
        info = store.put_bytes(key, data, if_none_match=True)
    except PreconditionFailedError:
        # Same microsecond and same bytes prefix: another writer kept it first. Trust
        # it only if it really holds these bytes.
        head = store.head(key)
        if head is None or head.md5 != digest:
            raise
        info = head
    generation = _from_key(key, info.size)
    assert generation is not None  # built from a valid ID just above
    return generation, True


def prune_generations(
    store: S3Store,
    now: dt.datetime | None = None,
    *,
    retention_days: int = RETENTION_DAYS,
    keep_newest: int = KEEP_NEWEST,
) -> list[str]:
    """Delete generations older than the window, except the newest ``keep_newest``;
    returns the deleted keys."""
    moment = (now or clock()).astimezone(dt.UTC)
    cutoff = moment - dt.timedelta(days=retention_days)
    generations = list_generations(store)
    protected = {g.key for g in generations[-keep_newest:]} if keep_newest > 0 else set()
    deleted: list[str] = []
    for generation in generations:
        if generation.key in protected or generation.created >= cutoff:
            continue
        store.delete(generation.key)
        deleted.append(generation.key)
    return deleted


@dataclass(frozen=True)
class VerifiedGeneration:
    generation: Generation
    data: bytes
    table: pa.Table
    md5: str


def verify_generation(store: S3Store, generation_id: str) -> VerifiedGeneration:
    """The generation's bytes, refused unless they are provably what was kept: an MD5
    recorded at upload that matches the bytes and the ID, a readable parquet file, and
    archive rows (the columns every archive row needs, a date on every row)."""
    key = generation_key(generation_id)
    uri = store.uri(key)
    try:
        # get_bytes refuses bytes that differ from the MD5 recorded with the object.
        data, info = store.get_bytes(key)
    except ObjectMissingError:
        raise InvalidGenerationError(
            f"there is no archive generation {generation_id} ({uri}); "
            "`grok-assets generations` lists those that exist"
        ) from None
    except CorruptObjectError as error:
        raise InvalidGenerationError(f"generation {generation_id} is corrupt: {error}") from None
    digest = md5_hex(data)
    if info.md5 is None:
        raise InvalidGenerationError(
            f"{uri} carries no recorded MD5, so its bytes cannot be verified; refusing it"
        )
    if not digest.startswith(generation_id.rsplit("_", 1)[1]):
        raise InvalidGenerationError(
            f"{uri} has MD5 {digest}, which does not match its ID {generation_id}; refusing it"
        )
    try:
        table = decode_parquet(store, key, data)
    except CorruptObjectError as error:
        raise InvalidGenerationError(f"{error}; refusing it") from None
    try:
        table = as_archive_rows(table, uri)
    except ArchiveIntegrityError as error:
        raise InvalidGenerationError(f"{error}; it is not an archive, refusing it") from None
    generation = _from_key(key, len(data))
    assert generation is not None
    return VerifiedGeneration(generation, data, table, digest)
