"""Gap diagnoses in the API (the seed's /api/ai-analysis/gap-diagnosis), and the
`aiAnalysisCompleted` events (the seed's ai_analysis_completed)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.bus import Event
from app.models import diagnosis as models
from app.resolvers import diagnosis as use_case
from app.schema.ai import AiProvenance, Finding
from app.schema.context import Info
from app.schema.fields import json_value, mutation, query, subscription
from app.schema.run import Run, StartRunResult
from app.schema.streams import stream


@strawberry.type(description="An AI gap diagnosis of a pricing plan, its claims verified.")
class GapDiagnosis:
    id: strawberry.ID
    plan_id: strawberry.ID
    product_id: strawberry.ID
    verdict: str = strawberry.field(
        description="underpriced, overpriced, well_priced or insufficient_data."
    )
    summary: str
    reasoning: str
    context: str
    findings: list[Finding]
    facts: JSON = strawberry.field(description="The platform's figures it was given, by key.")
    chunk_ids: list[strawberry.ID]
    provenance: AiProvenance
    created_at: datetime

    @classmethod
    def from_model(cls, doc: models.GapDiagnosis) -> GapDiagnosis:
        return cls(
            id=strawberry.ID(str(doc.id)),
            plan_id=strawberry.ID(str(doc.plan_id)),
            product_id=strawberry.ID(str(doc.product_id)),
            verdict=doc.verdict,
            summary=doc.summary,
            reasoning=doc.reasoning,
            context=doc.context,
            findings=[Finding.from_model(f) for f in doc.findings],
            facts=json_value(doc.facts),
            chunk_ids=[strawberry.ID(c) for c in doc.chunk_ids],
            provenance=AiProvenance.from_model(doc.provenance),
            created_at=doc.created_at,
        )


@strawberry.type
class AiAnalysisCompleted:
    product_id: strawberry.ID
    kind: str = strawberry.field(description="gapDiagnosis or pricingRecommendation.")
    analysis_id: strawberry.ID
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> AiAnalysisCompleted:
        return cls(
            product_id=strawberry.ID(event.data["productId"]),
            kind=event.data["kind"],
            analysis_id=strawberry.ID(event.data["analysisId"]),
            cursor=event.id,
        )


async def diagnoses(info: Info, plan_id: str) -> list[GapDiagnosis]:
    found = await use_case.diagnoses_of(info.context.ctx, plan_id)
    return [GapDiagnosis.from_model(d) for d in found]


@strawberry.type
class DiagnosisQuery:
    @query(description="A plan's gap diagnoses, newest first.")
    async def gap_diagnoses(self, info: Info, plan_id: strawberry.ID) -> list[GapDiagnosis]:
        return await diagnoses(info, plan_id)


@strawberry.type
class DiagnosisMutation:
    @mutation(description="Diagnose a plan (a pricing analysis run limited to it).")
    async def diagnose_plan(
        self, info: Info, plan_id: strawberry.ID, context: str = ""
    ) -> StartRunResult:
        return Run.from_model(await use_case.start_diagnosis(info.context.ctx, plan_id, context))


@strawberry.type
class DiagnosisSubscription:
    @subscription(description="An AI analysis of the product was stored.")
    def ai_analysis_completed(
        self, info: Info, product_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[AiAnalysisCompleted, None]:
        events = info.context.ctx.follow(
            use_case.TOPIC, since, lambda event: event.data.get("productId") == product_id
        )
        return stream(events, AiAnalysisCompleted.from_event)
