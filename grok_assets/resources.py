"""Dagster resources: the S3 store and the Grok selector.

Both resolve their settings from the environment when first used, never when the
definitions load, so ``dagster definitions validate`` and the UI work with no
environment at all.
"""

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pyarrow as pa
from dagster import ConfigurableResource, ResourceDependency
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from grok_assets import config, keys, trading_calendar
from grok_assets.schemas import TOKYO
from grok_assets.storage import S3Store

if TYPE_CHECKING:
    from grok_assets.selection.prompt import PromptContext


class StorageResource(ConfigurableResource):
    """The pipeline's bucket and prefix, reached through ``S3Resource``'s boto3 client.

    ``bucket`` and ``prefix`` default to ``S3_BUCKET`` and ``S3_PREFIX``; the client
    honours boto3's own ``AWS_ENDPOINT_URL`` and credential chain.
    """

    s3: ResourceDependency[S3Resource]
    bucket: str | None = None
    prefix: str | None = None
    # One store per location for the life of this resource (one run): building a boto3
    # client costs far more than any request the gate makes, and the store remembers
    # what it has already verified about the bucket.
    _stores: dict[tuple[config.Location, str | None], S3Store] = PrivateAttr(default_factory=dict)

    def store(self) -> S3Store:
        location = config.Location(
            bucket=self.bucket or config.s3_bucket(),
            prefix=self.prefix if self.prefix is not None else config.s3_prefix(),
        )
        cache_key = (location, config.endpoint_url())
        if cache_key not in self._stores:
            s3 = self.s3
            if s3.region_name is None:
                s3 = s3.model_copy(update={"region_name": config.aws_region()})
            self._stores[cache_key] = S3Store(s3.get_client(), location)
        return self._stores[cache_key]


def make_storage_resource() -> StorageResource:
    return StorageResource(s3=S3Resource())


def prompt_context(trading_day: dt.date, store: S3Store) -> "PromptContext":
    """The trading context from the JPX calendar plus backtest feedback read from the
    archive in ``store`` (the source of truth, never a local copy)."""
    from grok_assets.selection.feedback import load_feedback, render_feedback
    from grok_assets.selection.prompt import PromptContext

    today = dt.datetime.now(ZoneInfo(TOKYO)).date()
    return PromptContext(
        execution_date=today.isoformat(),
        latest_trading_day=trading_calendar.previous_trading_day(trading_day).isoformat(),
        next_trading_day=trading_calendar.next_trading_day(trading_day).isoformat(),
        feedback=render_feedback(load_feedback(store, trading_day)),
    )


class SelectorResource(ConfigurableResource):
    """Where a day's candidates come from: ``xai`` (Grok, live) or ``replay`` (recorded
    answers in the bucket). Defaults to ``GROK_SELECTOR``."""

    kind: str | None = None

    def resolved_kind(self) -> str:
        return (self.kind or config.selector_kind()).lower()

    def select(self, trading_day: dt.date, store: S3Store) -> pa.Table:
        from grok_assets.selection.answer import parse_model_answer
        from grok_assets.selection.prompt import PROMPT_VERSION, build_prompt

        date = trading_day.isoformat()
        kind = self.resolved_kind()
        if kind == "replay":
            key = keys.replay_answer_key(trading_day)
            data, _ = store.get_bytes(key)
            return parse_model_answer(
                data.decode("utf-8"),
                trading_date=date,
                model="replay",
                prompt_version=PROMPT_VERSION,
                source=store.uri(key),
            )
        if kind == "xai":
            from grok_assets.selection.xai import XaiClientSettings, request_selection

            settings = XaiClientSettings(
                api_key=config.xai_api_key(),
                model=config.grok_model(),
                base_url=config.xai_base_url(),
                timeout_s=config.xai_timeout_seconds(),
                max_attempts=config.xai_max_attempts(),
            )
            prompt = build_prompt(date, prompt_context(trading_day, store))
            answer = request_selection(settings, prompt)
            return parse_model_answer(
                answer,
                trading_date=date,
                model=settings.model,
                prompt_version=PROMPT_VERSION,
                source=f"xai model {settings.model}",
            )
        raise config.MissingSettingError(
            f"selector kind {kind!r} is not one of {', '.join(config.SELECTORS)}"
        )
