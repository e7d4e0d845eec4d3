"""LLM providers behind one interface: the OpenAI client (Responses API, strict structured
outputs) and the offline analyst (deterministic rules over the same facts).

A request carries both what the model reads (the rendered prompt and the output type) and
the offline analyst's rules for the same facts, so either provider answers any request with
the same output type. Failures are typed: a refusal, an incomplete or malformed output and a
rejected key are `AiFailure` (not worth retrying); rate limits and server errors the client
could not get past with its own retries are `ProviderBusy` (retried later by the run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

import numpy as np
import openai
from pydantic import BaseModel, ValidationError

from app.ai.prompts import Rendered
from app.errors import DomainError

T = TypeVar("T", bound=BaseModel)
EMBED_BATCH = 256


class AiSource(StrEnum):
    OPENAI = "openai"
    OFFLINE = "offline"


class FailureKind(StrEnum):
    REFUSAL = "refusal"
    INCOMPLETE = "incomplete"
    MALFORMED = "malformed"
    REJECTED_KEY = "rejected_key"
    BAD_REQUEST = "bad_request"


class AiFailure(DomainError):
    code = "AI_FAILED"

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(f"the model's answer was unusable ({kind.value}): {message}")
        self.kind = kind


class ProviderBusy(Exception):
    """Rate limited or failing on the provider's side; worth retrying later."""


@dataclass(frozen=True)
class AiRequest(Generic[T]):
    prompt: Rendered
    output: type[T]
    rules: Callable[[], T]  # the offline analyst's answer to the same request


@dataclass(frozen=True)
class Answer(Generic[T]):
    output: T
    source: AiSource
    model: str
    input_tokens: int = 0
    output_tokens: int = 0


class Provider(Protocol):
    source: AiSource
    model: str

    async def complete(self, request: AiRequest[T]) -> Answer[T]: ...

    async def embed(self, texts: list[str]) -> np.ndarray | None:
        """Unit-length embeddings, or None when the provider has none (lexical ranking)."""


class OfflineAnalyst:
    source = AiSource.OFFLINE
    model = "offline-rules-v1"

    async def complete(self, request: AiRequest[T]) -> Answer[T]:
        return Answer(request.rules(), self.source, self.model)

    async def embed(self, texts: list[str]) -> np.ndarray | None:
        return None


@dataclass(frozen=True)
class OpenAIConfig:
    api_key: str
    model: str
    embedding_model: str
    base_url: str | None
    timeout: float
    max_retries: int


class OpenAIProvider:
    source = AiSource.OPENAI

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.model = config.model

    def _client(self) -> openai.AsyncOpenAI:
        # The client retries 429 and 5xx itself, with exponential backoff and Retry-After.
        return openai.AsyncOpenAI(
            api_key=self.config.api_key,
            base_url=self.config.base_url,
            timeout=self.config.timeout,
            max_retries=self.config.max_retries,
        )

    async def complete(self, request: AiRequest[T]) -> Answer[T]:
        async with self._client() as client:
            try:
                response = await client.responses.parse(
                    model=self.model,
                    instructions=request.prompt.instructions,
                    input=request.prompt.input,
                    text_format=request.output,
                )
            except ValidationError as error:
                raise AiFailure(FailureKind.MALFORMED, str(error).splitlines()[0]) from None
            except openai.APIError as error:
                raise translate(error) from None
        tokens = response.usage
        answer_tokens = (tokens.input_tokens, tokens.output_tokens) if tokens else (0, 0)
        refusal = refusal_of(response)
        if refusal is not None:
            raise AiFailure(FailureKind.REFUSAL, refusal)
        if response.status == "incomplete":
            details = response.incomplete_details
            reason = details.reason if details and details.reason else "unknown reason"
            raise AiFailure(FailureKind.INCOMPLETE, f"stopped early: {reason}")
        parsed = response.output_parsed
        if parsed is None:
            raise AiFailure(FailureKind.MALFORMED, "no structured output in the answer")
        return Answer(parsed, self.source, response.model or self.model, *answer_tokens)

    async def embed(self, texts: list[str]) -> np.ndarray | None:
        vectors = []
        async with self._client() as client:
            for start in range(0, len(texts), EMBED_BATCH):
                try:
                    result = await client.embeddings.create(
                        model=self.config.embedding_model, input=texts[start : start + EMBED_BATCH]
                    )
                except openai.APIError as error:
                    raise translate(error) from None
                vectors += [item.embedding for item in sorted(result.data, key=lambda d: d.index)]
        matrix = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)


def refusal_of(response: object) -> str | None:
    for item in getattr(response, "output", None) or []:
        for content in getattr(item, "content", None) or []:
            if getattr(content, "type", None) == "refusal":
                return str(getattr(content, "refusal", "") or "refused")
    return None


def translate(error: openai.APIError) -> Exception:
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return AiFailure(FailureKind.REJECTED_KEY, "the provider rejected the API key")
    if isinstance(error, openai.RateLimitError | openai.APIConnectionError):
        return ProviderBusy(str(error))
    if isinstance(error, openai.APIStatusError) and error.status_code >= 500:
        return ProviderBusy(f"the provider answered {error.status_code}")
    return AiFailure(FailureKind.BAD_REQUEST, str(error))
