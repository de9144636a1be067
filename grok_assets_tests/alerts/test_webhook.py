"""Posting through slack_sdk to a loopback server speaking the incoming-webhook protocol,
including Slack failing and being down: what is retried, what is said, and that the
URL, a credential, is never part of it."""

from __future__ import annotations

import logging
import time

import pytest

from grok_assets.alerts.webhook import AlertDeliveryError, post_message
from grok_assets.dev.s3_server import free_port
from grok_assets_tests.support.slack_server import Answer, FakeSlack

TOKEN = "wEbHoOkSeCrEtToKeN0123456"


def _holds_url(error: BaseException, url: str) -> bool:
    """Whether the URL or its token is anywhere a reporter could reach."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        seen.append(current)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
    text = "\n".join(f"{e}{e!r}{e.args!r}{vars(e)!r}" for e in seen)
    return TOKEN in text or url in text


def test_a_message_is_posted_as_slack_expects(slack: FakeSlack) -> None:
    post_message(slack.url(TOKEN), "*selection_job* failed")

    (received,) = slack.received
    assert received.path == f"/services/T0GROK000/B0GROK000/{TOKEN}"
    assert received.payload == {
        "text": "*selection_job* failed",
        "unfurl_links": False,
        "unfurl_media": False,
    }
    assert received.headers["Content-Type"].startswith("application/json")
    assert slack.messages == ["*selection_job* failed"]


def test_a_slack_server_error_is_retried(slack: FakeSlack) -> None:
    slack.script = [Answer(500, "rollup_error"), Answer(503, "service_unavailable")]
    post_message(slack.url(TOKEN), "hello")
    assert len(slack.received) == 3
    assert slack.messages == ["hello"]


def test_a_rate_limit_is_waited_out(slack: FakeSlack) -> None:
    slack.script = [Answer(429, "rate_limited", headers={"Retry-After": "1"})]
    post_message(slack.url(TOKEN), "hello")
    assert slack.messages == ["hello"]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Answer(404, "no_service"), "HTTP 404 'no_service'"),
        (Answer(410, "channel_is_archived"), "HTTP 410 'channel_is_archived'"),
        (Answer(403, "action_prohibited"), "HTTP 403 'action_prohibited'"),
    ],
)
def test_a_refused_post_says_what_slack_answered_not_where(
    slack: FakeSlack, answer: Answer, said: str
) -> None:
    slack.script = [answer]
    url = slack.url(TOKEN)
    with pytest.raises(AlertDeliveryError, match=said) as caught:
        post_message(url, "hello")
    assert len(slack.received) == 1  # a 4xx is Slack's verdict: not retried
    assert not _holds_url(caught.value, url)


def test_a_webhook_that_is_down_fails_clearly_without_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T0GROK000/B0GROK000/{TOKEN}"
    started = time.monotonic()
    with pytest.raises(AlertDeliveryError, match="could not be reached: connection refused") as e:
        post_message(url, "hello")
    assert time.monotonic() - started < 15  # two quick retries, not a hang
    assert not _holds_url(e.value, url)


def test_a_webhook_that_does_not_answer_times_out(slack: FakeSlack) -> None:
    slack.script = [Answer(delay_s=3)]
    url = slack.url(TOKEN)
    with pytest.raises(AlertDeliveryError, match="no answer within 1 s") as caught:
        post_message(url, "hello", timeout_s=1)
    assert not _holds_url(caught.value, url)


def test_a_malformed_url_is_refused_without_being_quoted() -> None:
    url = f"hooks.slack.com/services/T0GROK000/B0GROK000/{TOKEN}"  # no scheme
    with pytest.raises(AlertDeliveryError) as caught:
        post_message(url, "hello")
    assert not _holds_url(caught.value, url)


def test_slack_sdk_never_logs_the_url(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    # slack_sdk logs the URL on every request (DEBUG) and on every retry (INFO) to
    # its own loggers; an operator may well route those into the run's logs.
    slack.script = [Answer(500, "rollup_error")]
    with caplog.at_level(logging.DEBUG):
        post_message(slack.url(TOKEN), "hello")
    assert len(slack.received) == 2  # there was a retry to log
    assert TOKEN not in caplog.text
