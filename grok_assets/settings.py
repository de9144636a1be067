"""Every setting the project reads, and the one reader of the process environment.

Settings are read when something needs them, never at import: the definitions must
load with an empty environment (``dagster definitions validate``, the UI). Secrets
(``XAI_API_KEY``, ``GROK_ALERT_WEBHOOK_URL``; AWS credentials, which boto3 reads
itself) come only from the environment and never appear in a repr, a message or run
configuration.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from grok_assets.layout import Location


class SettingsError(ValueError):
    """A setting is malformed; the message names the variable and what it accepts."""


class MissingSettingError(SettingsError):
    """A required environment variable is not set."""


def normalize_prefix(prefix: str) -> str:
    """A key prefix as keys are built from it: no leading slash, one trailing slash
    (an empty prefix stays empty: the bucket's root)."""
    prefix = prefix.strip().lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def normalize_x_handles(handles: Iterable[str], where: str) -> tuple[str, ...]:
    """X handles as x_search takes them: without "@", each once, at most MAX_X_HANDLES.
    ``where`` names the setting in the error (``GROK_X_HANDLES``, a resource field)."""
    cleaned: list[str] = []
    for handle in handles:
        name = handle.strip().removeprefix("@")
        if not name:
            continue
        if not _X_HANDLE.fullmatch(name):
            raise SettingsError(
                f"{where}: {handle.strip()!r} is not an X handle (1-15 letters, digits or _)"
            )
        if name.lower() not in {known.lower() for known in cleaned}:
            cleaned.append(name)
    if len(cleaned) > MAX_X_HANDLES:
        raise SettingsError(
            f"{where} names {len(cleaned)} X handles; x_search allows at most {MAX_X_HANDLES}"
        )
    return tuple(cleaned)


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


DEFAULT_PREFIX = "parquet/"
DEFAULT_REGION = "ap-northeast-1"
DEFAULT_SELECTOR = "xai"
SELECTORS = ("xai", "replay")
# grok-4 (grok-4-0709) and the grok-3 and fast generations were retired on 2026-05-15.
DEFAULT_MODEL = "grok-4.3"
DEFAULT_XAI_BASE_URL = "https://api.x.ai/v1"
# A request that searches X and the web can take many minutes; xAI advises at least 900 s.
DEFAULT_XAI_TIMEOUT_S = 1200.0
DEFAULT_XAI_MAX_ATTEMPTS = 4
# xAI's x_search accepts at most 10 allowed_x_handles (some of its pages say 20; 10 is
# safe under both).
MAX_X_HANDLES = 10
# An X handle: 1-15 letters, digits or underscores; "@" is optional when it is given.
_X_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
DEFAULT_UI_HOST = "127.0.0.1"
DEFAULT_UI_PORT = 3000

# Every variable read below; the README's configuration table documents each one (a
# test holds the three together).
VARIABLES = (
    Variable("S3_BUCKET", "", "bucket holding every object"),
    Variable("S3_PREFIX", DEFAULT_PREFIX, "key prefix of every object"),
    Variable("AWS_REGION", DEFAULT_REGION, "region of the bucket"),
    Variable("AWS_DEFAULT_REGION", "", "region, when AWS_REGION is not set"),
    Variable("AWS_ENDPOINT_URL", "", "an S3-compatible endpoint (boto3's own variable)"),
    Variable("AWS_ENDPOINT_URL_S3", "", "the same, for S3 only; wins over AWS_ENDPOINT_URL"),
    Variable("AWS_ACCESS_KEY_ID", "", "static credentials (else boto3's chain)"),
    Variable("AWS_SECRET_ACCESS_KEY", "", "static credentials (else boto3's chain)"),
    Variable("AWS_SESSION_TOKEN", "", "temporary credentials' token"),
    Variable("AWS_PROFILE", "", "a profile of the shared AWS files"),
    Variable("GROK_SELECTOR", DEFAULT_SELECTOR, "xai (live Grok) or replay (recorded answers)"),
    Variable("XAI_API_KEY", "", "xAI API key; never logged or written"),
    Variable("GROK_MODEL", DEFAULT_MODEL, "model name"),
    Variable("GROK_X_HANDLES", "", f"at most {MAX_X_HANDLES} X handles x_search is limited to"),
    Variable("XAI_BASE_URL", DEFAULT_XAI_BASE_URL, "OpenAI-compatible endpoint"),
    Variable("XAI_TIMEOUT_S", f"{DEFAULT_XAI_TIMEOUT_S:g}", "per-request timeout, seconds"),
    Variable("XAI_MAX_ATTEMPTS", str(DEFAULT_XAI_MAX_ATTEMPTS), "attempts in all"),
    Variable("GROK_ALLOW_UNCONDITIONAL_STORE", "", "1 accepts a store ignoring If-Match"),
    Variable("GROK_ALERT_WEBHOOK_URL", "", "Slack incoming webhook for alerts; a secret"),
    Variable("GROK_UI_HOST", DEFAULT_UI_HOST, "host of the local UI"),
    Variable("GROK_UI_PORT", str(DEFAULT_UI_PORT), "port of the local UI"),
    Variable("DAGSTER_HOME", "", "where run history persists"),
)


class Settings:
    """Typed, validated access to one snapshot of environment variables."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(os.environ)

    def __repr__(self) -> str:
        # Names only: values may hold secrets.
        return f"Settings({sorted(self._environ)!r})"

    def environ_with(self, extra: Mapping[str, str]) -> dict[str, str]:
        """This snapshot with ``extra`` on top: the environment for a child process."""
        return {**self._environ, **extra}

    def get(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def require(self, name: str, purpose: str) -> str:
        value = self.get(name)
        if value is None:
            raise MissingSettingError(
                f"environment variable {name} is not set; it is needed {purpose}"
            )
        return value

    def _number(self, name: str, default: float, minimum: float) -> float:
        text = self.get(name)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            raise SettingsError(f"{name}={text!r} is not a number") from None
        if value < minimum:
            raise SettingsError(f"{name}={text!r} must be at least {minimum:g}")
        return value

    # -- S3 -----------------------------------------------------------------------------

    @property
    def s3_bucket(self) -> str:
        return self.require("S3_BUCKET", "to read and write the pipeline's S3 objects")

    @property
    def s3_prefix(self) -> str:
        prefix = self.get("S3_PREFIX")
        return DEFAULT_PREFIX if prefix is None else normalize_prefix(prefix)

    @property
    def location(self) -> Location:
        return Location(bucket=self.s3_bucket, prefix=self.s3_prefix)

    @property
    def aws_region(self) -> str:
        return self.get("AWS_REGION") or self.get("AWS_DEFAULT_REGION") or DEFAULT_REGION

    @property
    def aws_endpoint_url(self) -> str | None:
        """An S3-compatible endpoint; boto3 reads the same variables on its own."""
        return self.get("AWS_ENDPOINT_URL_S3") or self.get("AWS_ENDPOINT_URL")

    @property
    def aws_profile(self) -> str | None:
        return self.get("AWS_PROFILE")

    @property
    def aws_credentials(self) -> dict[str, str]:
        """Static credentials from these settings as boto3 client arguments; empty when
        none are set, leaving boto3's own chain (profile, files, roles) to find them."""
        key_id, secret = self.get("AWS_ACCESS_KEY_ID"), self.get("AWS_SECRET_ACCESS_KEY")
        if key_id is None or secret is None:
            return {}
        credentials = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
        token = self.get("AWS_SESSION_TOKEN")
        if token is not None:
            credentials["aws_session_token"] = token
        return credentials

    @property
    def allow_unconditional_store(self) -> bool:
        return self.get("GROK_ALLOW_UNCONDITIONAL_STORE") == "1"

    # -- selection ----------------------------------------------------------------------

    @property
    def selector(self) -> str:
        kind = (self.get("GROK_SELECTOR") or DEFAULT_SELECTOR).lower()
        if kind not in SELECTORS:
            raise SettingsError(f"GROK_SELECTOR={kind!r} is not one of {', '.join(SELECTORS)}")
        return kind

    @property
    def xai_api_key(self) -> str:
        return self.require("XAI_API_KEY", "to ask Grok for a selection (GROK_SELECTOR=xai)")

    @property
    def grok_model(self) -> str:
        return self.get("GROK_MODEL") or DEFAULT_MODEL

    @property
    def grok_x_handles(self) -> tuple[str, ...]:
        """The X accounts x_search is restricted to; empty means all of X."""
        return normalize_x_handles((self.get("GROK_X_HANDLES") or "").split(","), "GROK_X_HANDLES")

    @property
    def xai_base_url(self) -> str:
        return self.get("XAI_BASE_URL") or DEFAULT_XAI_BASE_URL

    @property
    def xai_timeout_s(self) -> float:
        """How long a request may stay silent (a stream: between events; a JSON answer:
        until it arrives); a timed-out request is retried once."""
        return self._number("XAI_TIMEOUT_S", DEFAULT_XAI_TIMEOUT_S, 1.0)

    @property
    def xai_max_attempts(self) -> int:
        return int(self._number("XAI_MAX_ATTEMPTS", DEFAULT_XAI_MAX_ATTEMPTS, 1))

    # -- alerts -------------------------------------------------------------------------

    @property
    def alert_webhook_url(self) -> str | None:
        """The Slack incoming webhook alerts go to; None: alerts are not sent.

        The whole URL is a credential (anyone holding it can post to the channel), so it
        is only ever handed to the webhook client, never printed.
        """
        return self.get("GROK_ALERT_WEBHOOK_URL")

    # -- running it locally -------------------------------------------------------------

    @property
    def ui_host(self) -> str:
        return self.get("GROK_UI_HOST") or DEFAULT_UI_HOST

    @property
    def ui_port(self) -> int:
        port = int(self._number("GROK_UI_PORT", DEFAULT_UI_PORT, 1))
        if port > 65535:
            raise SettingsError(f"GROK_UI_PORT={port} is not a TCP port")
        return port

    @property
    def dagster_home(self) -> str | None:
        return self.get("DAGSTER_HOME")
