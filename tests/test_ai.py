"""The real `openai` client against a fake OpenAI server: strict structured outputs, the
server's checks of every citation (a fabricated quote and a wrong number are caught), retries
of a 429, refusals and incomplete answers as typed failures, the tenant's own key (BYOK),
usage with tokens and cost, and the AI per-minute limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.ai.prompts import TEMPLATES
from app.models import PricingPlan, Product, TenantScope
from app.models.identity import Tenant
from tests.support.ai import AI_PER_MINUTE, ai_stack
from tests.support.app import serve
from tests.support.fake_openai import INPUT_TOKENS, OUTPUT_TOKENS, FakeOpenAI, running_fake
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished
from tests.support.tenants import sign_up
from tests.test_diagnosis import DIAGNOSE, DIAGNOSES

DOC = (
    "Pro plan pricing. The Pro plan includes unlimited dashboards and priority support. "
    "Teams on Pro get single sign-on and an uptime commitment of ninety-nine point nine."
)
SET_SECRET = (
    'mutation($v: String!) { setSecret(input: {name: "openai", value: $v}) { __typename } }'
)
USAGE = """{ aiUsage(days: 1) { calls failedCalls inputTokens outputTokens estimatedCostUsd
  callsBySource } aiConfig { source keySource model prompts { name version } } }"""


@pytest_asyncio.fixture(scope="module")
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with running_fake(FakeOpenAI()) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def docs_url() -> AsyncIterator[str]:
    async def page(request: Any) -> PlainTextResponse:
        return PlainTextResponse(DOC)

    async with serve(Starlette(routes=[Route("/pro.txt", page)])) as url:
        yield f"{url}/pro.txt"


@pytest_asyncio.fixture(scope="module")
async def ai_api(mongo_url: str, redis_url: str, fake: FakeOpenAI) -> AsyncIterator[str]:
    async with ai_stack(mongo_url, redis_url, fake.url) as url:
        yield url


async def byok_tenant(ai_api: str) -> tuple[GraphQLClient, TenantScope]:
    signed_up = await sign_up(ai_api, f"AI {uuid.uuid4().hex[:6]}")
    await Tenant.find_one({"_id": signed_up.tenant_id}).update({"$set": {"tier": "enterprise"}})
    await signed_up.client.data(SET_SECRET, {"v": "sk-tenant-own-key"})
    return signed_up.client, TenantScope(signed_up.tenant_id)


async def documented_plan(scope: TenantScope, docs_url: str) -> PricingPlan:
    product = await scope.insert(
        Product(tenant_id=scope.tenant_id, name="Analytics", documentation_urls=[docs_url])
    )
    return await scope.insert(
        PricingPlan(
            tenant_id=scope.tenant_id, product_id=product.id, name="Pro", unit_price_cents=4900
        )
    )


def citation(**fields: Any) -> dict[str, Any]:
    return {"fact_key": None, "quoted_value": None, "chunk_id": None, "quote": None, **fields}


def finding(text: str, *evidence: dict[str, Any]) -> dict[str, Any]:
    return {"statement": text, "severity": "medium", "evidence": list(evidence)}


def answer_citing(request: dict[str, Any]) -> dict[str, Any]:
    """A diagnosis with one true and one wrong number, one real and one fabricated quote."""
    data = json.loads(request["input"])
    price = data["FACTS"]["plan.price_cents"]["value"]
    chunk = data["DOCUMENTS"][0]["chunk_id"]
    return {
        "verdict": "underpriced",
        "summary": "Pro is cheap for what it includes.",
        "reasoning": "The price is low against the documented features.",
        "findings": [
            finding("Pro costs $49.00.", citation(fact_key="plan.price_cents", quoted_value=price)),
            finding("Pro costs $79.00.", citation(fact_key="plan.price_cents", quoted_value=7900)),
            finding(
                "The docs promise a refund.",
                citation(chunk_id=chunk, quote="full refund, no questions"),
            ),
            finding(
                "Pro includes priority support.",
                citation(chunk_id=chunk, quote="unlimited dashboards and priority support"),
            ),
        ],
    }


async def run_diagnosis(client: GraphQLClient, plan: PricingPlan) -> dict[str, Any]:
    started = (await client.data(DIAGNOSE, {"p": str(plan.id), "c": ""}))["diagnosePlan"]
    assert started["__typename"] == "Run", started
    return await finished(client, started["id"])


async def test_the_model_diagnosis_keeps_verified_claims_and_catches_a_wrong_number_and_a_fabricated_quote(  # noqa: E501
    ai_api: str, fake: FakeOpenAI, docs_url: str
):
    client, scope = await byok_tenant(ai_api)
    plan = await documented_plan(scope, docs_url)
    fake.default = answer_citing
    seen = len(fake.responses())

    run = await run_diagnosis(client, plan)

    assert run["status"] == "COMPLETED", run
    found = (await client.data(DIAGNOSES, {"p": str(plan.id)}))["gapDiagnoses"][0]
    provenance = found["provenance"]
    assert (provenance["source"], provenance["keySource"]) == ("openai", "byok")
    assert provenance["claims"] == 4 and provenance["verifiedClaims"] == 2
    assert sorted(c["status"] for c in provenance["rejected"]) == [
        "quote_not_found",
        "wrong_number",
    ]
    assert [f["statement"] for f in found["findings"]] == [
        "Pro costs $49.00.",
        "Pro includes priority support.",
    ]
    request = fake.responses()[seen]
    assert request["auth"] == "Bearer sk-tenant-own-key"
    # The document reached the model as quoted data in the input, never in the instructions.
    assert "priority support" in request["body"]["input"]
    assert "priority support" not in request["body"]["instructions"]


async def test_a_429_is_retried_and_the_analysis_completes(
    ai_api: str, fake: FakeOpenAI, docs_url: str
):
    client, scope = await byok_tenant(ai_api)
    plan = await documented_plan(scope, docs_url)
    fake.default = answer_citing
    fake.then("status", 429)
    seen = len(fake.responses())

    run = await run_diagnosis(client, plan)

    assert run["status"] == "COMPLETED", run
    assert len(fake.responses()) - seen == 2  # the 429, then the answer
    usage = (await client.data(USAGE))["aiUsage"]
    assert usage["calls"] == 1 and usage["failedCalls"] == 0
    assert (usage["inputTokens"], usage["outputTokens"]) == (INPUT_TOKENS, OUTPUT_TOKENS)
    assert usage["estimatedCostUsd"] == pytest.approx((1200 * 0.40 + 300 * 1.60) / 1e6)


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("refusal", "I can't help with that.", "refusal"),
        ("incomplete", "max_output_tokens", "incomplete"),
    ],
)
async def test_a_refusal_or_an_incomplete_answer_fails_the_run_with_its_reason(
    ai_api: str, fake: FakeOpenAI, docs_url: str, kind: str, value: str, reason: str
):
    client, scope = await byok_tenant(ai_api)
    plan = await documented_plan(scope, docs_url)
    fake.then(kind, value)

    run = await run_diagnosis(client, plan)

    assert run["status"] == "FAILED"
    failed = next(s for s in run["steps"] if s["output"] and "failure" in s["output"])
    assert failed["output"] == {"failure": reason}
    assert (await client.data(DIAGNOSES, {"p": str(plan.id)}))["gapDiagnoses"] == []
    usage = (await client.data(USAGE))["aiUsage"]
    assert usage["failedCalls"] == 1


async def test_ai_requests_beyond_the_per_minute_limit_are_refused_and_start_nothing(
    ai_api: str, fake: FakeOpenAI, docs_url: str
):
    client, scope = await byok_tenant(ai_api)
    plan = await documented_plan(scope, docs_url)
    fake.default = answer_citing
    results = [
        (await client.data(DIAGNOSE, {"p": str(plan.id), "c": ""}))["diagnosePlan"]
        for _ in range(AI_PER_MINUTE + 1)
    ]

    assert [r["__typename"] for r in results[:AI_PER_MINUTE]] == ["Run"] * AI_PER_MINUTE
    assert results[-1]["__typename"] == "RateLimitedError"
    runs = (await client.data("{ runs(first: 50) { totalCount } }"))["runs"]
    assert runs["totalCount"] == AI_PER_MINUTE
    for r in results[:AI_PER_MINUTE]:
        await finished(client, r["id"])


async def test_ai_config_names_the_provider_the_key_and_the_prompt_templates(ai_api: str):
    client, _ = await byok_tenant(ai_api)
    config = (await client.data(USAGE))["aiConfig"]
    assert (config["source"], config["keySource"]) == ("openai", "byok")
    names = {p["name"] for p in config["prompts"]}
    assert names == set(TEMPLATES) and {"gap_diagnosis", "pricing_recommendation"} <= names
