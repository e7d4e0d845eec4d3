"""Pricing recommendations in the API (the seed's /api/recommendations/*)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.models import recommendation as models
from app.resolvers import recommendation as use_case
from app.resolvers.projection import Confidence, ElasticitySource
from app.schema.ai import AiProvenance, Finding
from app.schema.context import Info
from app.schema.fields import mutation, query
from app.schema.money import Cents
from app.schema.projection import ElasticityUsed
from app.schema.revenue import ChartPoint
from app.schema.run import Run, StartRunResult


@strawberry.type(description="An option the platform projected; changes are relative.")
class PricedOption:
    id: str
    kind: str = strawberry.field(description="keep, move or reprice.")
    label: str
    plan_id: strawberry.ID
    price_cents: Cents
    psychological: bool
    realistic_change: float | None
    optimistic_change: float | None
    pessimistic_change: float | None
    realistic_change_cents: Cents

    @classmethod
    def from_model(cls, o: models.PricedOption) -> PricedOption:
        return cls(**{**o.model_dump(), "plan_id": strawberry.ID(str(o.plan_id))})


@strawberry.type(description="A recommended pricing for a segment (RecommendedPricingModel).")
class PricingRecommendation:
    id: strawberry.ID
    product_id: strawberry.ID
    segment_id: strawberry.ID
    prompt: str
    chosen: PricedOption
    options: list[PricedOption]
    elasticity: ElasticityUsed
    months: int
    currency: str
    forecast: list[ChartPoint] = strawberry.field(
        description="The new revenue forecast (new_revenue_forecast_ts_data)."
    )
    baseline: list[ChartPoint] = strawberry.field(description="Staying at today's prices.")
    rationale: str
    findings: list[Finding]
    confidence: str
    provenance: AiProvenance
    created_at: datetime

    @classmethod
    def from_model(cls, doc: models.PricingRecommendation) -> PricingRecommendation:
        e = doc.elasticity
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            segment_id=strawberry.ID(str(doc.segment_id)),
            prompt=doc.prompt,
            chosen=PricedOption.from_model(doc.chosen),
            options=[PricedOption.from_model(o) for o in doc.options],
            elasticity=ElasticityUsed(
                estimate=e.estimate,
                lower=e.lower,
                upper=e.upper,
                source=ElasticitySource(e.source),
                confidence=Confidence(e.confidence),
                experiment_id=strawberry.ID(str(e.experiment_id)) if e.experiment_id else None,
                experiment_name=e.experiment_name,
            ),
            months=doc.months,
            currency=doc.currency,
            forecast=[ChartPoint.at(p.period, p.value, p.lower, p.upper) for p in doc.forecast],
            baseline=[ChartPoint.at(p.period, p.value, p.lower, p.upper) for p in doc.baseline],
            rationale=doc.rationale,
            findings=[Finding.from_model(f) for f in doc.findings],
            confidence=doc.confidence,
            provenance=AiProvenance.from_model(doc.provenance),
            created_at=doc.created_at,
        )


@strawberry.type
class RecommendationQuery:
    @query(description="Recommendations of a product (optionally one segment), newest first.")
    async def pricing_recommendations(
        self, info: Info, product_id: strawberry.ID, segment_id: strawberry.ID | None = None
    ) -> list[PricingRecommendation]:
        found = await use_case.recommendations_of(info.context.ctx, product_id, segment_id)
        return [PricingRecommendation.from_model(r) for r in found]


@strawberry.type
class RecommendationMutation:
    @mutation(description="Recommend pricing for a segment (a pricing analysis run).")
    async def generate_pricing_recommendation(
        self, info: Info, product_id: strawberry.ID, segment_id: strawberry.ID, prompt: str = ""
    ) -> StartRunResult:
        run = await use_case.start_recommendation(info.context.ctx, product_id, segment_id, prompt)
        return Run.from_model(run)
