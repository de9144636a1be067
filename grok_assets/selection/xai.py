"""Live selection request to xAI's OpenAI-compatible chat-completions API."""

from __future__ import annotations

import dataclasses
import re

import openai
from openai.types.chat import ChatCompletion

from grok_assets.settings import (
    DEFAULT_XAI_BASE_URL,
    DEFAULT_XAI_MAX_ATTEMPTS,
    DEFAULT_XAI_TIMEOUT_S,
)

TEMPERATURE = 0.2
_MESSAGE_LIMIT = 200
# xAI keys look like "xai-..."; redacted from server messages in case one is echoed.
_KEY_LIKE = re.compile(r"xai-[A-Za-z0-9_-]{8,}")


class XaiSelectionError(RuntimeError):
    """The selection request failed; the message never contains the API key."""

    def __init__(
        self, message: str, *, status_code: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


@dataclasses.dataclass(frozen=True)
class XaiClientSettings:
    api_key: str = dataclasses.field(repr=False)
    model: str
    base_url: str = DEFAULT_XAI_BASE_URL
    timeout_s: float = DEFAULT_XAI_TIMEOUT_S
    max_attempts: int = DEFAULT_XAI_MAX_ATTEMPTS


def _redact(text: str, api_key: str) -> str:
    if api_key:
        text = text.replace(api_key, "***")
    text = _KEY_LIKE.sub("xai-***", text)
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "..."


def _complete(
    settings: XaiClientSettings, prompt: str, where: str, attempts: str
) -> tuple[ChatCompletion | None, XaiSelectionError | None]:
    try:
        with openai.OpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout_s,
            max_retries=settings.max_attempts - 1,
        ) as client:
            completion = client.chat.completions.create(
                model=settings.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=TEMPERATURE,
            )
        return completion, None
    except openai.APIStatusError as exc:
        return None, XaiSelectionError(
            f"{where} failed after {attempts}: HTTP {exc.status_code}, "
            f"request id {exc.request_id or 'unknown'}: {_redact(exc.message, settings.api_key)}",
            status_code=exc.status_code,
            request_id=exc.request_id,
        )
    except openai.APITimeoutError:
        return None, XaiSelectionError(
            f"{where} timed out after {attempts} of {settings.timeout_s:g} s each"
        )
    except openai.APIConnectionError as exc:
        return None, XaiSelectionError(
            f"{where} unreachable after {attempts}: {_redact(str(exc), settings.api_key)}"
        )
    except openai.OpenAIError as exc:
        return None, XaiSelectionError(
            f"{where} failed: {type(exc).__name__}: {_redact(str(exc), settings.api_key)}"
        )


def request_selection(settings: XaiClientSettings, prompt: str) -> str:
    """Ask the model for a selection and return its raw answer text.

    Retries on 408/409/429/5xx and connection errors are left to the SDK, which backs
    off exponentially and honours Retry-After.
    """
    if settings.max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {settings.max_attempts}")
    where = f"xAI model {settings.model} at {settings.base_url}"
    attempts = f"{settings.max_attempts} attempt(s)"
    completion, failure = _complete(settings, prompt, where, attempts)
    if failure is not None or completion is None:
        # Raised outside the `except` blocks so that not even `__context__` links to
        # the SDK exception, which holds the request and its Authorization header.
        raise failure or XaiSelectionError(f"{where} returned no completion")

    choice = completion.choices[0] if completion.choices else None
    content = choice.message.content if choice else None
    if not content or not content.strip():
        finish = choice.finish_reason if choice else "no choices"
        raise XaiSelectionError(
            f"{where} returned an empty answer (finish_reason {finish}, "
            f"response id {completion.id})"
        )
    return content
