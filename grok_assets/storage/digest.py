"""MD5 of bytes, as S3's ``Content-MD5`` header and as the manifest record it."""

from __future__ import annotations

import base64
import hashlib

# Object metadata key (``x-amz-meta-md5``) holding the hex MD5 of the bytes as uploaded.
MD5_METADATA_KEY = "md5"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")
