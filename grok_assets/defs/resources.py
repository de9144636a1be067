"""Dagster resources: the S3 store, the Grok selector and the alert webhook.

Every field defaults to its environment variable (:mod:`grok_assets.settings`), read
when first used, never when the definitions load, so ``dagster definitions validate``
and the UI work with no environment at all. Runs that must not depend on the process
environment (the demo, the tests) pass configured resources instead.
"""

import datetime as dt

from dagster import ConfigurableResource, ResourceDependency
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from grok_assets.alerts.webhook import DEFAULT_TIMEOUT_S, post_message
from grok_assets.layout import Location
from grok_assets.selection.selector import Selection, SelectorConfig, select_candidates
from grok_assets.settings import Settings, normalize_prefix, normalize_x_handles
from grok_assets.storage import S3Store


class StorageResource(ConfigurableResource):
    """The pipeline's bucket and prefix, reached through ``S3Resource``'s boto3 client.

    ``bucket`` and ``prefix`` default to ``S3_BUCKET`` and ``S3_PREFIX``; the client
    honours boto3's own ``AWS_ENDPOINT_URL`` and credential chain unless ``s3`` is
    configured otherwise.
    """

    s3: ResourceDependency[S3Resource]
    bucket: str | None = None
    prefix: str | None = None
    allow_unconditional_store: bool | None = None
    # One store per location for the life of this resource (one run): building a boto3
    # client costs far more than any request the gate makes, and the store remembers
    # what it has already verified about the bucket.
    _stores: dict[tuple[Location, str | None], S3Store] = PrivateAttr(default_factory=dict)

    def store(self) -> S3Store:
        settings = Settings.from_environment()
        location = Location(
            bucket=self.bucket or settings.s3_bucket,
            prefix=normalize_prefix(self.prefix) if self.prefix is not None else settings.s3_prefix,
        )
        endpoint = self.s3.endpoint_url or settings.aws_endpoint_url
        cache_key = (location, endpoint)
        if cache_key not in self._stores:
            s3 = self.s3
            if s3.region_name is None:
                s3 = s3.model_copy(update={"region_name": settings.aws_region})
            allow = self.allow_unconditional_store
            self._stores[cache_key] = S3Store(
                s3.get_client(),
                location,
                allow_unconditional=settings.allow_unconditional_store if allow is None else allow,
            )
        return self._stores[cache_key]


def make_storage_resource() -> StorageResource:
    """The code location's own: every field from the environment at first use."""
    return StorageResource(s3=S3Resource())


def storage_resource_from(
    settings: Settings, s3_resource: type[S3Resource] = S3Resource
) -> StorageResource:
    """A storage resource for the store ``settings`` name, for a run started by a command
    (``grok-assets check``, the demo) that was given its settings rather than taking the
    process environment. ``s3_resource``: a subclass to build the client with."""
    credentials = settings.aws_credentials
    return StorageResource(
        s3=s3_resource(
            endpoint_url=settings.aws_endpoint_url,
            region_name=settings.aws_region,
            profile_name=settings.aws_profile,
            aws_access_key_id=credentials.get("aws_access_key_id"),
            aws_secret_access_key=credentials.get("aws_secret_access_key"),
            aws_session_token=credentials.get("aws_session_token"),
        ),
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        allow_unconditional_store=settings.allow_unconditional_store,
    )


class SelectorResource(ConfigurableResource):
    """Where a day's candidates come from: ``xai`` (Grok, live) or ``replay`` (recorded
    answers in the bucket). Defaults to ``GROK_SELECTOR`` and the ``GROK_MODEL`` /
    ``GROK_X_HANDLES`` / ``XAI_*`` settings; the API key only ever comes from
    ``XAI_API_KEY``. ``stream`` (default on) reads the answer as server-sent events."""

    kind: str | None = None
    model: str | None = None
    base_url: str | None = None
    timeout_s: float | None = None
    max_attempts: int | None = None
    x_handles: list[str] | None = None
    stream: bool = True

    def config(self, settings: Settings) -> SelectorConfig:
        return SelectorConfig(
            kind=(self.kind or settings.selector).lower(),
            model=self.model or settings.grok_model,
            base_url=self.base_url or settings.xai_base_url,
            timeout_s=self.timeout_s if self.timeout_s is not None else settings.xai_timeout_s,
            max_attempts=(
                self.max_attempts if self.max_attempts is not None else settings.xai_max_attempts
            ),
            x_handles=(
                normalize_x_handles(self.x_handles, "SelectorResource.x_handles")
                if self.x_handles is not None
                else settings.grok_x_handles
            ),
            stream=self.stream,
        )

    def select(self, trading_day: dt.date, store: S3Store) -> Selection:
        settings = Settings.from_environment()
        return select_candidates(self.config(settings), trading_day, store, settings)


class AlertWebhookResource(ConfigurableResource):
    """The Slack incoming webhook alerts are posted to.

    ``url`` defaults to ``GROK_ALERT_WEBHOOK_URL``, read when an alert is sent. In
    production leave it unset here: the URL is a secret, and a configured value is
    shown on the UI's resource page; tests configure a loopback URL.
    """

    url: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    def _url(self) -> str | None:
        return self.url or Settings.from_environment().alert_webhook_url

    @property
    def enabled(self) -> bool:
        return self._url() is not None

    def post(self, text: str) -> None:
        """Post ``text``; raises ``AlertDeliveryError`` when it could not be delivered."""
        url = self._url()
        if url is None:
            raise ValueError("GROK_ALERT_WEBHOOK_URL is not set: there is nowhere to post")
        post_message(url, text, timeout_s=self.timeout_s)
