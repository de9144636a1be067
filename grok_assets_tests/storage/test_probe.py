"""The store capability probe: a store that ignores conditional writes is refused.

The "ignoring store" is the loopback S3 server behind a proxy that strips
``If-Match``/``If-None-Match`` from every PUT, which is exactly what such a server
does: it accepts the header and writes anyway.
"""

from __future__ import annotations

import datetime as dt
import logging

import boto3
import pytest

from grok_assets import layout
from grok_assets.dev.s3_server import LOOPBACK_CREDENTIALS
from grok_assets.dev.seeding import seed_sample
from grok_assets.layout import PROBE_DIR, Location
from grok_assets.settings import Settings
from grok_assets.storage import S3Store, UnconditionalStoreError, md5_hex
from grok_assets.storage import conditional as conditional_module
from grok_assets.storage.conditional import ALLOW_UNCONDITIONAL_SETTING
from grok_assets_tests.support.fault_proxy import STRIP_CONDITIONS, FaultProxy, Rule
from grok_assets_tests.support.harness import (  # noqa: F401
    proxied_fixture,
    proxy_fixture,
    run_fast,
)
from grok_assets_tests.support.pipeline import DAYS, Pipeline, step_errors

REGION = "ap-northeast-1"


def proxied_store(
    fault_proxy: FaultProxy, bucket: str, *, allow_unconditional: bool = False
) -> S3Store:
    client = boto3.client(
        "s3",
        endpoint_url=fault_proxy.endpoint,
        region_name=REGION,
        aws_access_key_id=LOOPBACK_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOOPBACK_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return S3Store(client, Location(bucket, "parquet/"), allow_unconditional=allow_unconditional)


def probe_keys(store: S3Store) -> list[str]:
    return [info.key for info in store.list(PROBE_DIR)]


def test_an_enforcing_store_is_probed_once_and_the_probe_is_removed(
    proxy: FaultProxy, store: S3Store
) -> None:
    probed = proxied_store(proxy, store.bucket)

    probed.put_bytes("a.bin", b"a", if_none_match=True)
    probed.put_bytes("b.bin", b"b", if_none_match=True)
    info = probed.put_bytes("a.bin", b"a2", if_match=probed.head("a.bin").etag)  # type: ignore[union-attr]

    assert info.md5 == md5_hex(b"a2")
    # One probe for the store: a plain write, then the two conditional writes that
    # must fail (412), then the delete.
    probe_requests = [(r.method, r.status) for r in proxy.requests if PROBE_DIR in r.path]
    assert probe_requests[:4] == [("PUT", 200), ("PUT", 412), ("PUT", 412), ("DELETE", 204)]
    assert sum(method == "PUT" for method, _ in probe_requests) == 3
    assert probe_keys(store) == []


def test_a_store_ignoring_conditional_writes_is_refused_naming_the_endpoint(
    proxy: FaultProxy, store: S3Store
) -> None:
    proxy.add(Rule(STRIP_CONDITIONS, method="PUT", times=None))
    ignoring = proxied_store(proxy, store.bucket)
    store.put_bytes("kept.bin", b"the original")

    with pytest.raises(UnconditionalStoreError) as caught:
        ignoring.put_bytes("kept.bin", b"would overwrite", if_none_match=True)

    message = str(caught.value)
    assert proxy.endpoint in message
    assert "If-None-Match" in message and "If-Match" in message
    assert ALLOW_UNCONDITIONAL_SETTING in message
    # Refused before the write itself was sent: the object is untouched.
    assert store.get_bytes("kept.bin")[0] == b"the original"
    assert probe_keys(store) == []


def test_only_one_of_the_conditions_ignored_is_refused_too(
    proxy: FaultProxy, store: S3Store
) -> None:
    proxy.add(
        Rule(
            STRIP_CONDITIONS,
            method="PUT",
            times=None,
            when=lambda request: request.header("if-match") is not None,
        )
    )
    with pytest.raises(UnconditionalStoreError, match="If-Match: <wrong ETag>"):
        proxied_store(proxy, store.bucket).put_bytes("x.bin", b"x", if_none_match=True)


@pytest.mark.parametrize(("value", "allowed"), [("1", True), ("", False), ("yes", False)])
def test_the_opt_out_is_read_from_its_setting(value: str, allowed: bool) -> None:
    settings = Settings({ALLOW_UNCONDITIONAL_SETTING: value})
    assert settings.allow_unconditional_store is allowed


def test_the_documented_opt_out_proceeds_with_a_loud_warning(
    proxy: FaultProxy, store: S3Store, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.add(Rule(STRIP_CONDITIONS, method="PUT", times=None))
    allowed = proxied_store(proxy, store.bucket, allow_unconditional=True)

    with caplog.at_level(logging.WARNING, logger="grok_assets.storage"):
        allowed.put_bytes("x.bin", b"x", if_none_match=True)

    assert store.get_bytes("x.bin")[0] == b"x"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(ALLOW_UNCONDITIONAL_SETTING in w and "NOT in force" in w for w in warnings)


def test_reads_and_plain_writes_do_not_probe(proxy: FaultProxy, store: S3Store) -> None:
    probed = proxied_store(proxy, store.bucket)
    probed.put_bytes("plain.bin", b"p")
    probed.put_if_changed("plain.bin", b"q")
    probed.get_bytes("plain.bin")
    assert not any(PROBE_DIR in r.path for r in proxy.requests)


def test_a_probe_left_by_a_killed_process_is_removed_by_the_next(
    proxy: FaultProxy, store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_bytes(f"{PROBE_DIR}left-by-a-killed-run", b"probe")
    monkeypatch.setattr(conditional_module, "STALE_PROBE_AGE", dt.timedelta(0))
    proxied_store(proxy, store.bucket).put_bytes("x.bin", b"x", if_none_match=True)
    assert probe_keys(store) == []


def test_selection_job_against_an_ignoring_store_fails_and_publishes_nothing(
    proxy: FaultProxy, proxied: Pipeline, store: S3Store
) -> None:
    seed_sample(store, DAYS[0], DAYS[1])
    proxy.add(Rule(STRIP_CONDITIONS, method="PUT", times=None))

    result = run_fast(proxied, "selection_job", DAYS[0])

    assert not result.success
    assert proxy.endpoint in step_errors(result)
    assert "does not enforce conditional writes" in step_errors(result)
    assert store.head(layout.candidates_key(DAYS[0])) is None
    assert store.head(layout.PUBLISHED_SELECTION) is None
    assert probe_keys(store) == []
