"""Competitor and market intelligence in the API (the seed's CompetitorAnalysis and
MarketIntelligence), and the AI summary of a product's positioning."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.models import competitor as models
from app.models.competitor import IntelSource
from app.resolvers import competitor as use_case
from app.schema.ai import AiProvenance, Finding
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, RateLimitedError, ValidationError
from app.schema.fields import json_value, mutation, query
from app.schema.money import Cents


@strawberry.type(description="One observed price of one of the competitor's plans.")
class PricePoint:
    date: dt.date
    price_cents: Cents
    plan_name: str


@strawberry.type
class FeatureNote:
    feature: str
    note: str


@strawberry.type(description="A competitor's observed prices and position against a product.")
class CompetitorAnalysis:
    id: strawberry.ID
    product_id: strawberry.ID
    competitor_name: str = strawberry.field(description="One of the product's `competitors`.")
    price_points: list[PricePoint]
    feature_comparison: list[FeatureNote]
    market_position: str
    source: IntelSource
    created_at: dt.datetime
    updated_at: dt.datetime
    revision: int

    @classmethod
    def from_model(cls, doc: models.CompetitorAnalysis) -> CompetitorAnalysis:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            competitor_name=doc.competitor_name,
            price_points=[PricePoint(**p.model_dump()) for p in doc.price_points],
            feature_comparison=[
                FeatureNote(feature=k, note=v) for k, v in doc.feature_comparison.items()
            ],
            market_position=doc.market_position,
            source=doc.source,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
        )


@strawberry.type
class TrendPoint:
    date: dt.date
    value: float


@strawberry.type(description="The market a product sells into, as the tenant last stated it.")
class MarketIntelligence:
    id: strawberry.ID
    product_id: strawberry.ID
    market_segment: str
    market_size_cents: Cents | None
    growth_rate: float | None = strawberry.field(description="Yearly; 0.12 is 12%.")
    pricing_trends: list[TrendPoint]
    key_insights: list[str]
    data_date: dt.date | None
    source: IntelSource
    updated_at: dt.datetime
    revision: int

    @classmethod
    def from_model(cls, doc: models.MarketIntelligence) -> MarketIntelligence:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            market_segment=doc.market_segment,
            market_size_cents=doc.market_size_cents,
            growth_rate=doc.growth_rate,
            pricing_trends=[TrendPoint(date=p.date, value=p.value) for p in doc.pricing_trends],
            key_insights=list(doc.key_insights),
            data_date=doc.data_date,
            source=doc.source,
            updated_at=doc.updated_at,
            revision=doc.revision,
        )


@strawberry.type(description="The product's plans against its competitors' newest prices.")
class PositioningSummary:
    id: strawberry.ID
    product_id: strawberry.ID
    summary: str
    findings: list[Finding]
    facts: JSON = strawberry.field(description="The platform's figures it was given, by key.")
    provenance: AiProvenance
    created_at: dt.datetime

    @classmethod
    def from_model(cls, doc: models.PositioningSummary) -> PositioningSummary:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            summary=doc.summary,
            findings=[Finding.from_model(f) for f in doc.findings],
            facts=json_value(doc.facts),
            provenance=AiProvenance.from_model(doc.provenance),
            created_at=doc.created_at,
        )


@strawberry.input
class PricePointInput:
    date: dt.date
    price_cents: Cents
    plan_name: str


@strawberry.input
class FeatureNoteInput:
    feature: str
    note: str


@strawberry.input
class CreateCompetitorAnalysisInput:
    product_id: strawberry.ID
    competitor_name: str
    price_points: list[PricePointInput] = strawberry.field(default_factory=list)
    feature_comparison: list[FeatureNoteInput] = strawberry.field(default_factory=list)
    market_position: str = ""
    source: IntelSource = IntelSource.MANUAL


@strawberry.input(description="Only the fields given are changed; `revision` is the one read.")
class UpdateCompetitorAnalysisInput:
    id: strawberry.ID
    revision: int
    competitor_name: str | None = None
    price_points: list[PricePointInput] | None = strawberry.field(
        default=None, description="Replaces the whole series."
    )
    feature_comparison: list[FeatureNoteInput] | None = None
    market_position: str | None = None
    source: IntelSource | None = None


@strawberry.input
class TrendPointInput:
    date: dt.date
    value: float


@strawberry.input(description="Replaces the product's market intelligence.")
class MarketIntelligenceInput:
    product_id: strawberry.ID
    market_segment: str = ""
    market_size_cents: Cents | None = None
    growth_rate: float | None = None
    pricing_trends: list[TrendPointInput] = strawberry.field(default_factory=list)
    key_insights: list[str] = strawberry.field(default_factory=list)
    data_date: dt.date | None = None
    source: IntelSource = IntelSource.MANUAL


def analysis_fields(
    input: CreateCompetitorAnalysisInput | UpdateCompetitorAnalysisInput,
) -> dict[str, Any]:
    """The input's given fields as model values."""
    fields: dict[str, Any] = {}
    for key in ("competitor_name", "market_position", "source"):
        value = getattr(input, key)
        if value is not None:
            fields[key] = value
    if input.price_points is not None:
        fields["price_points"] = [models.PricePoint(**vars(p)) for p in input.price_points]
    if input.feature_comparison is not None:
        fields["feature_comparison"] = {n.feature: n.note for n in input.feature_comparison}
    return fields


def market_fields(input: MarketIntelligenceInput) -> dict[str, Any]:
    fields = {k: v for k, v in vars(input).items() if k not in ("product_id", "pricing_trends")}
    fields["pricing_trends"] = [models.TrendPoint(**vars(p)) for p in input.pricing_trends]
    return fields


AnalysisResult = Annotated[
    CompetitorAnalysis | ValidationError | NotFoundError | ConflictError,
    strawberry.union("CompetitorAnalysisResult"),
]
MarketResult = Annotated[
    MarketIntelligence | ValidationError | NotFoundError,
    strawberry.union("MarketIntelligenceResult"),
]
PositioningResult = Annotated[
    PositioningSummary | ValidationError | NotFoundError | RateLimitedError,
    strawberry.union("PositioningSummaryResult"),
]


@strawberry.type
class CompetitorQuery:
    @query(description="The product's competitor analyses, by competitor name.")
    async def competitor_analyses(
        self, info: Info, product_id: strawberry.ID
    ) -> list[CompetitorAnalysis]:
        found = await use_case.analyses_of(info.context.ctx, product_id)
        return [CompetitorAnalysis.from_model(a) for a in found]

    @query(description="The product's market intelligence; null until set.")
    async def market_intelligence(
        self, info: Info, product_id: strawberry.ID
    ) -> MarketIntelligence | None:
        found = await use_case.market_of(info.context.ctx, product_id)
        return MarketIntelligence.from_model(found) if found else None

    @query(description="The product's positioning summaries, newest first.")
    async def competitor_positioning(
        self, info: Info, product_id: strawberry.ID
    ) -> list[PositioningSummary]:
        found = await use_case.summaries_of(info.context.ctx, product_id)
        return [PositioningSummary.from_model(s) for s in found]


@strawberry.type
class CompetitorMutation:
    @mutation()
    async def create_competitor_analysis(
        self, info: Info, input: CreateCompetitorAnalysisInput
    ) -> AnalysisResult:
        doc = await use_case.create_analysis(
            info.context.ctx, input.product_id, analysis_fields(input)
        )
        return CompetitorAnalysis.from_model(doc)

    @mutation()
    async def update_competitor_analysis(
        self, info: Info, input: UpdateCompetitorAnalysisInput
    ) -> AnalysisResult:
        doc = await use_case.update_analysis(
            info.context.ctx, input.id, input.revision, analysis_fields(input)
        )
        return CompetitorAnalysis.from_model(doc)

    @mutation()
    async def delete_competitor_analysis(
        self, info: Info, id: strawberry.ID, revision: int
    ) -> AnalysisResult:
        doc = await use_case.delete_analysis(info.context.ctx, id, revision)
        return CompetitorAnalysis.from_model(doc)

    @mutation()
    async def set_market_intelligence(
        self, info: Info, input: MarketIntelligenceInput
    ) -> MarketResult:
        doc = await use_case.set_market(info.context.ctx, input.product_id, market_fields(input))
        return MarketIntelligence.from_model(doc)

    @mutation(
        description="Summarize the product's plans against its competitors' newest prices "
        "(the model when a key is set, else the offline analyst); stored with its source."
    )
    async def summarize_competitor_positioning(
        self, info: Info, product_id: strawberry.ID
    ) -> PositioningResult:
        doc = await use_case.summarize(info.context.ctx, product_id)
        return PositioningSummary.from_model(doc)
