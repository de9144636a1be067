"""An S3-compatible server on loopback (moto's), for the demo, the local UI and the tests.

It speaks S3 over real HTTP, so boto3 and pyarrow exercise the same code paths as
against AWS, including conditional writes (412) and ranged GETs. moto is a
development extra (``pip install -e ".[dev]"``), never a production dependency.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grok_assets.settings import DEFAULT_PREFIX, DEFAULT_REGION, Settings
from grok_assets.storage import S3Store, open_store, s3_client

if TYPE_CHECKING:
    from grok_assets.defs.resources import StorageResource

# moto accepts any credentials; these only satisfy boto3's signer.
LOOPBACK_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "loopback-access-key",
    "AWS_SECRET_ACCESS_KEY": "loopback-secret-key",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LoopbackS3:
    """A running loopback server, and every way this project is pointed at it."""

    endpoint: str
    region: str = DEFAULT_REGION

    def environ(self, bucket: str, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
        """The variables an operator would set to point the pipeline at ``bucket``
        (for a process of its own)."""
        return {
            **LOOPBACK_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "S3_BUCKET": bucket,
            "S3_PREFIX": prefix,
            "NO_PROXY": "127.0.0.1",
        }

    def settings(self, bucket: str, prefix: str = DEFAULT_PREFIX) -> Settings:
        return Settings(self.environ(bucket, prefix))

    def client(self) -> Any:
        return s3_client(self.settings(""))

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region}
        )

    def store(self, bucket: str, prefix: str = DEFAULT_PREFIX) -> S3Store:
        return open_store(self.settings(bucket, prefix))

    def storage_resource(
        self, bucket: str, prefix: str = DEFAULT_PREFIX, s3_resource: type | None = None
    ) -> StorageResource:
        """``s3_resource``: an ``S3Resource`` subclass to build the client with."""
        from grok_assets.defs.resources import storage_resource_from

        settings = self.settings(bucket, prefix)
        if s3_resource is None:
            return storage_resource_from(settings)
        return storage_resource_from(settings, s3_resource)

    def resources(self, bucket: str, prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
        """Run resources for ``bucket`` with recorded answers (``replay``): what the
        demo, the local UI's first runs and the tests pass to their runs."""
        from grok_assets.defs.resources import SelectorResource

        return {
            "storage": self.storage_resource(bucket, prefix),
            "selector": SelectorResource(kind="replay"),
        }


@contextmanager
def loopback_s3_server() -> Iterator[LoopbackS3]:
    """Run moto's S3 server on a free loopback port until the block exits."""
    from moto.server import ThreadedMotoServer

    # Werkzeug would print one line per request into the operator's terminal.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield LoopbackS3(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
