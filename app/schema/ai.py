"""The AI layer in the API: which provider a tenant's analyses use, its prompt templates
(readable and overridable, the seed's /llmstxt/get), usage and cost, and the verified
findings every analysis carries."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.ai.prompts import TEMPLATES
from app.models import ai as models
from app.models.identity import Role
from app.resolvers import ai as use_case
from app.resolvers.ctx import ResolverCtx
from app.schema.context import Info
from app.schema.errors import ValidationError
from app.schema.fields import json_value, mutation, query


@strawberry.type(description="Evidence of a claim: a platform fact and/or a documentation quote.")
class Citation:
    fact_key: str | None
    quoted_value: float | None = strawberry.field(description="The number the claim quotes.")
    fact_value: float | None = strawberry.field(description="The platform's own figure.")
    chunk_id: strawberry.ID | None
    quote: str | None
    status: str = strawberry.field(description="verified, or why the check failed.")
    detail: str

    @classmethod
    def from_model(cls, c: models.Citation) -> Citation:
        return cls(
            fact_key=c.fact_key,
            quoted_value=c.quoted_value,
            fact_value=c.fact_value,
            chunk_id=strawberry.ID(c.chunk_id) if c.chunk_id else None,
            quote=c.quote,
            status=c.status,
            detail=c.detail,
        )


@strawberry.type
class Finding:
    statement: str
    severity: str
    verified: bool = strawberry.field(
        description="Every citation checked out and every figure matches a platform fact."
    )
    evidence: list[Citation]
    unsupported_numbers: list[str]

    @classmethod
    def from_model(cls, f: models.Finding) -> Finding:
        return cls(
            statement=f.statement,
            severity=f.severity,
            verified=f.verified,
            evidence=[Citation.from_model(c) for c in f.evidence],
            unsupported_numbers=list(f.unsupported_numbers),
        )


@strawberry.type(description="Who wrote an analysis's words and how far they were verified.")
class AiProvenance:
    source: str = strawberry.field(description="openai, or offline (the rules analyst).")
    model: str
    key_source: str = strawberry.field(description="byok, managed or none.")
    prompt: str
    prompt_version: int
    run_id: strawberry.ID | None
    claims: int
    verified_claims: int
    rejected: list[Citation] = strawberry.field(description="Citations that failed the check.")
    unsupported_numbers: list[str] = strawberry.field(
        description="Figures in the summary or rationale that match no platform fact."
    )
    input_tokens: int
    output_tokens: int

    @classmethod
    def from_model(cls, p: models.Provenance) -> AiProvenance:
        return cls(
            source=p.source,
            model=p.model,
            key_source=p.key_source,
            prompt=p.prompt,
            prompt_version=p.prompt_version,
            run_id=strawberry.ID(str(p.run_id)) if p.run_id else None,
            claims=p.claims,
            verified_claims=p.verified_claims,
            rejected=[Citation.from_model(c) for c in p.rejected],
            unsupported_numbers=list(p.unsupported_numbers),
            input_tokens=p.input_tokens,
            output_tokens=p.output_tokens,
        )


@strawberry.type
class PromptTemplate:
    name: str
    version: int
    description: str
    default_instructions: str
    instructions: str = strawberry.field(description="What is sent: the override, if any.")
    overridden: bool


@strawberry.type(description="The tenant's AI configuration (the seed's LLMTextConfig).")
class AiConfig:
    source: str
    model: str
    key_source: str
    vector_store: str
    ai_requests_per_minute: int
    prompts: list[PromptTemplate]


@strawberry.type
class AiUsage:
    days: int
    calls: int
    failed_calls: int
    input_tokens: int
    output_tokens: int
    estimated_cost_usd: float
    calls_by_source: JSON


async def prompt_view(ctx: ResolverCtx, name: str) -> PromptTemplate:
    template = use_case.template(name)
    override = await use_case.override_of(ctx, name)
    return PromptTemplate(
        name=template.name,
        version=template.version,
        description=template.description,
        default_instructions=template.instructions,
        instructions=override.instructions if override else template.instructions,
        overridden=override is not None,
    )


PromptResult = Annotated[PromptTemplate | ValidationError, strawberry.union("PromptResult")]


@strawberry.type
class AiQuery:
    @query(description="Provider, key source, limits and prompt templates of this tenant.")
    async def ai_config(self, info: Info) -> AiConfig:
        ctx = info.context.ctx
        provider, key_source = await use_case.provider_for(ctx)
        settings = ctx.services.settings
        return AiConfig(
            source=provider.source.value,
            model=provider.model,
            key_source=key_source,
            vector_store=settings.vector_store,
            ai_requests_per_minute=settings.rate_limit_ai_requests_per_minute,
            prompts=[await prompt_view(ctx, name) for name in TEMPLATES],
        )

    @query(Role.ADMIN, description="AI calls, tokens and estimated cost of the last days.")
    async def ai_usage(self, info: Info, days: int = 30) -> AiUsage:
        found = await use_case.ai_usage(info.context.ctx, days)
        return AiUsage(
            days=days,
            calls=found.calls,
            failed_calls=found.failed_calls,
            input_tokens=found.input_tokens,
            output_tokens=found.output_tokens,
            estimated_cost_usd=found.cost_usd,
            calls_by_source=json_value(found.by_source),
        )


@strawberry.type
class AiMutation:
    @mutation(Role.ADMIN, description="Override a prompt's instructions; null restores them.")
    async def set_prompt_override(
        self, info: Info, name: str, instructions: str | None = None
    ) -> PromptResult:
        ctx = info.context.ctx
        await use_case.set_override(ctx, name, instructions)
        return await prompt_view(ctx, name)
