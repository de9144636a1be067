"""A seekable, read-only file over one version of an S3 object, served by ranged GETs.

pyarrow reads a parquet footer and single column chunks through it, so a question
about one date of a long history costs a few small requests, not the whole object.
Opening it is one GET of the object's tail, which holds a parquet footer (and all of a
small file): no HEAD first. Every later range is conditioned on the ETag that GET
returned: a concurrent replace fails the read instead of mixing bytes of two versions.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from grok_assets.storage.errors import CorruptObjectError

if TYPE_CHECKING:
    from grok_assets.storage.store import ObjectInfo, S3Store

# As pyarrow's own reader starts with: enough for a footer of about 20 years of archive
# (see backup.archive.ARCHIVE_ROW_GROUP_ROWS), and the whole of a daily file.
TAIL_BYTES = 64 * 1024


class RangedObjectReader(io.RawIOBase):
    def __init__(
        self, store: S3Store, relative_key: str, info: ObjectInfo, tail: bytes = b""
    ) -> None:
        super().__init__()
        self._store = store
        self._key = relative_key
        self._info = info
        # The object's last bytes, already fetched with its info.
        self._tail = tail
        self._tail_start = info.size - len(tail)
        self._position = 0
        self.bytes_fetched = len(tail)
        self.requests = 1 if tail else 0

    @property
    def info(self) -> ObjectInfo:
        return self._info

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
        if self._tail and self._position >= self._tail_start:
            data = self._tail[self._position - self._tail_start : end - self._tail_start]
        else:
            data = self._store.get_range(self._key, self._position, end, self._info.etag)
            self.requests += 1
            self.bytes_fetched += len(data)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def read_exactly(self, start: int, length: int) -> bytes:
        self.seek(start)
        chunks: list[bytes] = []
        while length > 0:
            chunk = self.read(length)
            if not chunk:
                break
            chunks.append(chunk)
            length -= len(chunk)
        return b"".join(chunks)


def ranged_reader(store: S3Store, relative_key: str) -> RangedObjectReader | None:
    """A reader over the current version of the object; None when absent."""
    found = store.get_tail(relative_key, TAIL_BYTES)
    if found is None:
        return None
    info, tail = found
    if info.size == 0:
        raise CorruptObjectError(
            f"{store.uri(relative_key)} is empty (0 bytes); restore it from a backup",
            bucket=store.bucket,
            key=relative_key,
        )
    return RangedObjectReader(store, relative_key, info, tail)
