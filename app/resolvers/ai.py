"""The AI use cases every analysis shares: which provider and key a tenant's call uses, the
per-minute AI limit, usage and cost accounting, prompt templates and their overrides, and
turning a provider's findings into verified, stored ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from beanie import PydanticObjectId
from pydantic import BaseModel

from app.ai.citations import (
    CheckedFinding,
    CitationStatus,
    Facts,
    check_finding,
    unsupported_numbers,
)
from app.ai.outputs import FindingDraft
from app.ai.prompts import TEMPLATES, PromptTemplate, Rendered, render
from app.ai.provider import (
    AiFailure,
    AiRequest,
    Answer,
    OfflineAnalyst,
    OpenAIConfig,
    OpenAIProvider,
    Provider,
    ProviderBusy,
)
from app.errors import RateLimited, ValidationFailed
from app.models import Product
from app.models.ai import AiCall, Citation, Finding, KeySource, PromptOverride, Provenance
from app.models.base import utcnow
from app.models.identity import Project
from app.resolvers.ctx import ResolverCtx
from app.resolvers.secret import reveal

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
SECRET_NAME = "openai"  # noqa: S105 - the name the tenant stores its own key under
MINUTE = 60.0
INSTRUCTIONS_MAX = 8000


async def provider_for(ctx: ResolverCtx) -> tuple[Provider, str]:
    """The tenant's own key first (BYOK), then the platform's, else the offline analyst."""
    settings = ctx.services.settings
    own = await reveal(ctx.scope, ctx.services.keyring, SECRET_NAME)
    managed = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    key, source = (own, KeySource.BYOK) if own else (managed, KeySource.MANAGED)
    if not key:
        return OfflineAnalyst(), KeySource.NONE
    config = OpenAIConfig(
        api_key=key,
        model=settings.openai_model,
        embedding_model=settings.openai_embedding_model,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
    )
    return OpenAIProvider(config), source


async def admit_ai(ctx: ResolverCtx) -> None:
    """The AI limit per tenant and minute (RATE_LIMIT_AI_REQUESTS_PER_MINUTE), on top of
    the hourly quota of expensive work every run is charged to; a refusal starts nothing."""
    limiter = ctx.services.limiter
    if limiter is None:
        return
    limit = ctx.services.settings.rate_limit_ai_requests_per_minute
    decision = await limiter.hit(f"t:{ctx.tenant_id}:ai", limit, MINUTE)
    if not decision.allowed:
        raise RateLimited("AI requests per minute", decision.retry_after)


def cost_usd(ctx: ResolverCtx, input_tokens: int, output_tokens: int) -> float:
    settings = ctx.services.settings
    return (
        input_tokens * settings.openai_input_usd_per_million
        + output_tokens * settings.openai_output_usd_per_million
    ) / 1_000_000


async def ask(
    ctx: ResolverCtx, request: AiRequest[T], run_id: PydanticObjectId | None
) -> tuple[Answer[T], str]:
    """One provider call, recorded with its tokens and cost whatever its outcome."""
    provider, key_source = await provider_for(ctx)
    call = AiCall(
        tenant_id=ctx.tenant_id,
        operation=request.prompt.template,
        source=provider.source.value,
        model=provider.model,
        key_source=key_source,
        run_id=run_id,
    )
    try:
        answer = await provider.complete(request)
    except (AiFailure, ProviderBusy) as failure:
        call.outcome = failure.kind.value if isinstance(failure, AiFailure) else "busy"
        await ctx.scope.insert(call)
        raise
    call.model = answer.model
    call.input_tokens, call.output_tokens = answer.input_tokens, answer.output_tokens
    call.cost_usd = cost_usd(ctx, answer.input_tokens, answer.output_tokens)
    await ctx.scope.insert(call)
    return answer, key_source


@dataclass(frozen=True)
class AiUsage:
    calls: int
    failed_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    by_source: dict[str, int]


async def ai_usage(ctx: ResolverCtx, days: int) -> AiUsage:
    if not 1 <= days <= 400:
        raise ValidationFailed.single("days", "must be 1 to 400")
    since = utcnow() - timedelta(days=days)
    calls = await ctx.scope.find(AiCall, {"at": {"$gte": since}}).to_list()
    by_source: dict[str, int] = {}
    for call in calls:
        by_source[call.source] = by_source.get(call.source, 0) + 1
    return AiUsage(
        calls=len(calls),
        failed_calls=sum(c.outcome != "ok" for c in calls),
        input_tokens=sum(c.input_tokens for c in calls),
        output_tokens=sum(c.output_tokens for c in calls),
        cost_usd=round(sum(c.cost_usd for c in calls), 6),
        by_source=by_source,
    )


# --- prompts ------------------------------------------------------------------------------


def template(name: str) -> PromptTemplate:
    found = TEMPLATES.get(name)
    if found is None:
        known = ", ".join(sorted(TEMPLATES))
        raise ValidationFailed.single("name", f"no prompt template {name!r}; known: {known}")
    return found


async def override_of(ctx: ResolverCtx, name: str) -> PromptOverride | None:
    return await ctx.scope.find(PromptOverride, {"name": name}).first_or_none()


async def set_override(ctx: ResolverCtx, name: str, instructions: str | None) -> PromptTemplate:
    """Replace a template's instructions for this tenant; None or blank restores it."""
    found = template(name)
    if instructions is not None and len(instructions) > INSTRUCTIONS_MAX:
        raise ValidationFailed.single("instructions", f"at most {INSTRUCTIONS_MAX} characters")
    existing = await override_of(ctx, name)
    if not (instructions or "").strip():
        if existing is not None:
            await ctx.scope.delete(PromptOverride, existing.id or "")
            ctx.audit.record("PromptOverride", existing.id, before=existing)
        return found
    text = (instructions or "").strip()
    if existing is None:
        stored = await ctx.scope.insert(
            PromptOverride(tenant_id=ctx.tenant_id, name=name, instructions=text)
        )
    else:
        stored = await ctx.scope.update(existing, {"instructions": text})
    ctx.audit.record("PromptOverride", stored.id, existing, stored)
    return found


async def standing_instructions(ctx: ResolverCtx, product: Product) -> list[str]:
    """The AI instructions of the projects that cover the product."""
    projects = await ctx.scope.find(Project, {"products.product_id": product.id}).to_list()
    return [p.ai_instructions for p in projects if p.ai_instructions.strip()]


async def prompt(
    ctx: ResolverCtx,
    name: str,
    product: Product,
    facts: Facts,
    chunks: dict[str, str],
    context: str,
    extra: dict[str, object],
) -> Rendered:
    """The template (or the tenant's override) with the product's standing instructions."""
    override = await override_of(ctx, name)
    return render(
        template(name),
        override.instructions if override else None,
        await standing_instructions(ctx, product),
        facts,
        chunks,
        context,
        extra,
    )


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    findings: list[Finding]
    claims: int
    verified: int
    rejected: list[Citation]


def stored_citation(checked: Any, facts: Facts) -> Citation:
    draft = checked.draft
    fact = facts.get(draft.fact_key) if draft.fact_key else None
    return Citation(
        fact_key=draft.fact_key,
        quoted_value=draft.quoted_value,
        fact_value=fact.value if fact else None,
        chunk_id=draft.chunk_id,
        quote=draft.quote,
        status=checked.status.value,
        detail=checked.detail,
    )


def verify(drafts: list[FindingDraft], facts: Facts, chunks: dict[str, str]) -> Verified:
    """Findings keep their verified citations; a finding with none left is dropped. Every
    failed citation is kept in `rejected`, so the user sees what was caught."""
    checked: list[CheckedFinding] = [check_finding(d, facts, chunks) for d in drafts]
    findings, rejected = [], []
    for item in checked:
        good = [c for c in item.citations if c.status == CitationStatus.VERIFIED]
        rejected += [stored_citation(c, facts) for c in item.citations if c not in good]
        if not good:
            continue
        findings.append(
            Finding(
                statement=item.draft.statement,
                severity=item.draft.severity,
                verified=item.verified,
                evidence=[stored_citation(c, facts) for c in good],
                unsupported_numbers=item.unsupported_numbers,
            )
        )
    return Verified(findings, len(checked), sum(f.verified for f in checked), rejected)


def provenance(
    answer: Answer[Any],
    key_source: str,
    rendered: Rendered,
    run_id: PydanticObjectId | None,
    checked: Verified,
    words: str,
    facts: Facts,
) -> Provenance:
    """`words`: the free text (summary, reasoning, rationale) whose figures are checked."""
    return Provenance(
        source=answer.source.value,
        model=answer.model,
        key_source=key_source,
        prompt=rendered.template,
        prompt_version=rendered.version,
        run_id=run_id,
        claims=checked.claims,
        verified_claims=checked.verified,
        rejected=checked.rejected,
        unsupported_numbers=unsupported_numbers(words, facts),
        input_tokens=answer.input_tokens,
        output_tokens=answer.output_tokens,
    )
