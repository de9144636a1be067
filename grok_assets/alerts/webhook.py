"""Posting a message to a Slack incoming webhook, through ``slack_sdk``.

The webhook URL is a credential: whoever holds it can post to the channel. It goes to
the client and nowhere else. ``slack_sdk`` logs the URL itself (at INFO when it
retries, at DEBUG on every request), so the client gets a logger of its own that
emits nothing; and a failure is reported by what went wrong, never by the URL or an
exception that could carry it.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING
from urllib.error import HTTPError, URLError

if TYPE_CHECKING:
    from slack_sdk.webhook import WebhookClient

DEFAULT_TIMEOUT_S = 10.0
# Retries within one post: the alert is sent from a sensor tick, which Dagster does
# not repeat for the same run, so a short outage of Slack is ridden out here.
RETRIES = 2
BACKOFF_S = 0.5

# A logger nothing can hear: not reachable by name, disabled, without handlers.
_SILENT = logging.Logger("grok_assets.alerts.webhook.slack_sdk")
_SILENT.disabled = True
_SILENT.propagate = False


class AlertDeliveryError(RuntimeError):
    """The alert could not be delivered; the message says why, never where to."""


def _client(url: str, timeout_s: float) -> WebhookClient:
    # Imported here: the code location loads this module, and slack_sdk costs 0.1 s to
    # import; only a sensor tick with something to say needs it.
    from slack_sdk.http_retry import (
        BackoffRetryIntervalCalculator,
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )
    from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
    from slack_sdk.webhook import WebhookClient

    backoff = BackoffRetryIntervalCalculator(backoff_factor=BACKOFF_S)
    return WebhookClient(
        url,
        timeout=int(max(1, timeout_s)),
        logger=_SILENT,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=RETRIES, interval_calculator=backoff),
            RateLimitErrorRetryHandler(max_retry_count=1),
            # Slack's 500 rollup_error and 503 service_unavailable.
            ServerErrorRetryHandler(max_retry_count=RETRIES, interval_calculator=backoff),
        ],
    )


def _why(error: Exception, timeout_s: float) -> str:
    """What went wrong, in words that cannot contain the URL."""
    if isinstance(error, TimeoutError | socket.timeout):
        return f"no answer within {timeout_s:g} s"
    if isinstance(error, HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, URLError):
        reason = error.reason
        if isinstance(reason, OSError) and reason.strerror:
            return reason.strerror.lower()
        if isinstance(reason, TimeoutError | socket.timeout):
            return f"no answer within {timeout_s:g} s"
        return f"cannot connect ({type(reason).__name__})"
    # Anything else (slack_sdk's own errors, a malformed URL): the class only, since
    # such messages quote the URL.
    return type(error).__name__


def post_message(url: str, text: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Post ``text`` to the webhook at ``url``; :class:`AlertDeliveryError` if Slack did
    not answer ``200 ok`` after the retries."""
    failure: str | None = None
    status, body = 0, ""
    client = _client(url, timeout_s)
    try:
        response = client.send(text=text, unfurl_links=False, unfurl_media=False)
        status, body = response.status_code, str(response.body or "")
    except Exception as error:  # urllib's errors, slack_sdk's, a bad URL: reported below
        failure = _why(error, timeout_s)
    # Raised outside the handler, so that not even __context__ links to an exception
    # holding the request and its URL.
    if failure is not None:
        raise AlertDeliveryError(f"the Slack webhook could not be reached: {failure}")
    if status != 200:
        # Slack's bodies are short codes (no_service, channel_is_archived, ...).
        said = body.replace(url, "<webhook>")[:100]
        raise AlertDeliveryError(f"the Slack webhook answered HTTP {status} {said!r}")
