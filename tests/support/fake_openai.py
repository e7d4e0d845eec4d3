"""A fake OpenAI server (Responses and Embeddings APIs) run with uvicorn, for the real
`openai` client to talk to through OPENAI_BASE_URL.

It checks what it receives (a strict JSON schema: every property required, no extra ones)
and answers from a script: a structured output, an error status (429 or 5xx), a refusal or
an incomplete answer; with the script empty it answers `default(request)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.app import serve

INPUT_TOKENS, OUTPUT_TOKENS = 1200, 300
DIMENSIONS = 64


@dataclass
class Reply:
    kind: str  # json | status | refusal | incomplete
    value: Any = None


@dataclass
class FakeOpenAI:
    script: list[Reply] = field(default_factory=list)
    default: Callable[[dict[str, Any]], Any] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def then(self, kind: str, value: Any = None) -> FakeOpenAI:
        self.script.append(Reply(kind, value))
        return self

    def responses(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/v1/responses"]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/responses", self._respond, methods=["POST"]),
                Route("/v1/embeddings", self._embed, methods=["POST"]),
            ]
        )

    async def _respond(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(
            {"path": request.url.path, "body": body, "auth": request.headers.get("authorization")}
        )
        problem = strictness_problem(body)
        if problem:
            return JSONResponse({"error": {"message": problem, "type": "invalid"}}, 400)
        reply = self.script.pop(0) if self.script else Reply("json", None)
        if reply.kind == "status":
            headers = {"retry-after-ms": "10"}
            error = {"error": {"message": "slow down", "type": "rate_limit", "code": None}}
            return JSONResponse(error, reply.value, headers=headers)
        if reply.kind == "refusal":
            content = [{"type": "refusal", "refusal": reply.value}]
            return JSONResponse(response(body, content))
        if reply.kind == "incomplete":
            answer = response(body, [], status="incomplete")
            answer["incomplete_details"] = {"reason": reply.value}
            return JSONResponse(answer)
        value = reply.value if reply.value is not None else self.default(body)  # type: ignore[misc]
        text = value if isinstance(value, str) else json.dumps(value)
        return JSONResponse(
            response(body, [{"type": "output_text", "text": text, "annotations": []}])
        )

    async def _embed(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"path": request.url.path, "body": body})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": hashed(t)} for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": 10 * len(texts), "total_tokens": 10 * len(texts)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )


def response(body: dict[str, Any], content: list[dict[str, Any]], status: str = "completed"):
    output = (
        [
            {
                "type": "message",
                "id": "msg_1",
                "status": status,
                "role": "assistant",
                "content": content,
            }
        ]
        if content
        else []
    )
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": body["model"],
        "status": status,
        "output": output,
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": INPUT_TOKENS,
            "output_tokens": OUTPUT_TOKENS,
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def strictness_problem(body: dict[str, Any]) -> str | None:
    form = body.get("text", {}).get("format", {})
    if form.get("type") != "json_schema" or form.get("strict") is not True:
        return "expected a strict json_schema text format"
    schema = form["schema"]
    return _object_problem(schema, schema.get("$defs", {}))


def _object_problem(node: Any, defs: dict[str, Any]) -> str | None:
    if isinstance(node, dict):
        if node.get("type") == "object":
            props = set(node.get("properties", {}))
            if node.get("additionalProperties") is not False:
                return "an object allows additional properties"
            if set(node.get("required", [])) != props:
                return "an object does not require all of its properties"
        for value in node.values():
            problem = _object_problem(value, defs)
            if problem:
                return problem
    if isinstance(node, list):
        for value in node:
            problem = _object_problem(value, defs)
            if problem:
                return problem
    return None


def hashed(text: str) -> list[float]:
    """A bag of hashed words: texts sharing words are close, as embeddings would be."""
    vector = [0.0] * DIMENSIONS
    for word in text.lower().split():
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMENSIONS] += 1.0
    return vector


@contextlib.asynccontextmanager
async def running_fake(fake: FakeOpenAI) -> AsyncIterator[FakeOpenAI]:
    async with serve(fake.app()) as url:
        fake.url = f"{url}/v1"
        yield fake
