"""Willingness-to-pay surveys in the API: Van Westendorp (with Newton-Miller-Smith) and
Gabor-Granger results, with their curves as chart points (app/analytics/wtp.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import numpy as np
import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from app import models
from app.analytics.wtp import GaborGrangerResult, NmsResult, PsmResult, sample_curve
from app.errors import ValidationFailed
from app.resolvers import wtp as use_case
from app.schema.context import Info
from app.schema.errors import NotFoundError, ValidationError
from app.schema.fields import mutation, query
from app.schema.money import Cents
from app.schema.pagination import Connection, connection

CHART_POINTS = 200  # per curve: answered prices, evenly thinned


@strawberry.type(description="One point of a price chart: a share or an amount at a price.")
class PriceChartPoint:
    price_cents: Cents
    value: float


@strawberry.type(description="One point of a price chart of money: an amount at a price.")
class PriceMoneyPoint:
    price_cents: Cents
    value_cents: Cents


def money_chart(prices: np.ndarray, amounts: np.ndarray) -> list[PriceMoneyPoint]:
    return [
        PriceMoneyPoint(price_cents=p.price_cents, value_cents=round(p.value))
        for p in chart(prices, amounts)
    ]


def chart(prices: np.ndarray, values: np.ndarray) -> list[PriceChartPoint]:
    """Answered prices are whole cents, so the points are exact (a chart thins them)."""
    kept_prices, kept_values = sample_curve(prices, values, CHART_POINTS)
    return [
        PriceChartPoint(price_cents=round(p), value=float(v))
        for p, v in zip(kept_prices, kept_values, strict=True)
    ]


@strawberry.type(
    description="Newton-Miller-Smith: trial is the mean calibrated purchase probability, 0 at "
    "too cheap and too expensive, the calibrated intents at cheap and expensive, linear "
    "between; revenue is price x trial per respondent."
)
class NewtonMillerSmith:
    respondents: int
    trial_optimal_price_cents: Cents
    trial_at_optimum: float
    revenue_optimal_price_cents: Cents
    revenue_at_optimum_cents: Cents = strawberry.field(description="Per respondent.")
    trial: list[PriceChartPoint]
    revenue: list[PriceMoneyPoint] = strawberry.field(description="Per respondent.")

    @classmethod
    def of(cls, nms: NmsResult) -> NewtonMillerSmith:
        return cls(
            respondents=nms.respondents,
            trial_optimal_price_cents=round(nms.trial_optimal_price),
            trial_at_optimum=nms.trial_at_optimum,
            revenue_optimal_price_cents=round(nms.revenue_optimal_price),
            revenue_at_optimum_cents=round(nms.revenue_at_optimum),
            trial=chart(nms.prices, nms.trial),
            revenue=money_chart(nms.prices, nms.revenue),
        )


@strawberry.type(
    description="Van Westendorp's price sensitivity meter over the consistent responses "
    "(too cheap < cheap < expensive < too expensive); intersections interpolated linearly."
)
class VanWestendorp:
    respondents: int = strawberry.field(description="Responses with the four prices.")
    excluded: int = strawberry.field(description="Of them, inconsistent and left out.")
    point_of_marginal_cheapness_cents: Cents = strawberry.field(
        description="'Too cheap' meets 'not cheap' (1 - cheap): the acceptable range's floor."
    )
    point_of_marginal_expensiveness_cents: Cents = strawberry.field(
        description="'Too expensive' meets 'not expensive': the acceptable range's ceiling."
    )
    optimal_price_cents: Cents = strawberry.field(description="'Too cheap' meets 'too expensive'.")
    indifference_price_cents: Cents = strawberry.field(description="'Cheap' meets 'expensive'.")
    too_cheap: list[PriceChartPoint]
    cheap: list[PriceChartPoint]
    expensive: list[PriceChartPoint]
    too_expensive: list[PriceChartPoint]
    not_cheap: list[PriceChartPoint]
    not_expensive: list[PriceChartPoint]
    newton_miller_smith: NewtonMillerSmith | None = strawberry.field(
        description="When the survey asked purchase intent at cheap and expensive."
    )

    @classmethod
    def of(cls, r: PsmResult) -> VanWestendorp:
        c = r.curves
        return cls(
            respondents=r.respondents,
            excluded=r.excluded,
            point_of_marginal_cheapness_cents=round(r.marginal_cheapness),
            point_of_marginal_expensiveness_cents=round(r.marginal_expensiveness),
            optimal_price_cents=round(r.optimal_price),
            indifference_price_cents=round(r.indifference_price),
            too_cheap=chart(c.prices, c.too_cheap),
            cheap=chart(c.prices, c.cheap),
            expensive=chart(c.prices, c.expensive),
            too_expensive=chart(c.prices, c.too_expensive),
            not_cheap=chart(c.prices, c.not_cheap),
            not_expensive=chart(c.prices, c.not_expensive),
            newton_miller_smith=NewtonMillerSmith.of(r.nms) if r.nms else None,
        )


@strawberry.type(
    description="Gabor-Granger: demand at each ladder price is the mean calibrated purchase "
    "intent of the consistent respondents asked there; optima are ladder prices."
)
class GaborGranger:
    respondents: int
    excluded: int = strawberry.field(description="Intent rising with price: left out.")
    unit_cost_cents: Cents = strawberry.field(description="Of the survey's plan; 0 without.")
    revenue_optimal_price_cents: Cents
    profit_optimal_price_cents: Cents | None = strawberry.field(
        description="Null when no ladder price is above the unit cost."
    )
    demand: list[PriceChartPoint]
    revenue: list[PriceMoneyPoint] = strawberry.field(description="Per respondent.")
    profit: list[PriceMoneyPoint] = strawberry.field(description="Per respondent.")

    @classmethod
    def of(cls, r: GaborGrangerResult) -> GaborGranger:
        profit_price = r.profit_optimal_price
        return cls(
            respondents=r.respondents,
            excluded=r.excluded,
            unit_cost_cents=round(r.unit_cost),
            revenue_optimal_price_cents=round(r.revenue_optimal_price),
            profit_optimal_price_cents=round(profit_price) if profit_price is not None else None,
            demand=chart(r.prices, r.demand),
            revenue=money_chart(r.prices, r.revenue),
            profit=money_chart(r.prices, r.profit),
        )


@strawberry.type(description="A willingness-to-pay survey of a product's segment.")
class WtpSurvey:
    id: strawberry.ID
    product_id: strawberry.ID
    segment_id: strawberry.ID
    plan_id: strawberry.ID | None = strawberry.field(
        description="The plan priced: its unit cost gives Gabor-Granger's profit."
    )
    name: str
    respondents: int
    intent_calibration: list[float] = strawberry.field(
        description="Probability of buying at purchase intents 5 (definitely) down to 1."
    )
    created_at: datetime
    revision: int
    doc: strawberry.Private[models.WtpSurvey]

    @strawberry.field(description="Van Westendorp's results, when the survey asked the prices.")
    def van_westendorp(self) -> VanWestendorp | None:
        result = use_case.psm_of(self.doc)
        return VanWestendorp.of(result) if result else None

    @strawberry.field(description="Gabor-Granger's results, when the survey had a ladder.")
    async def gabor_granger(self, info: Info) -> GaborGranger | None:
        cost = await use_case.unit_cost_of(info.context.scope, self.doc)
        result = use_case.ladder_of(self.doc, cost)
        return GaborGranger.of(result) if result else None

    @classmethod
    def from_model(cls, doc: models.WtpSurvey) -> WtpSurvey:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            segment_id=strawberry.ID(str(doc.segment_id)),
            plan_id=strawberry.ID(str(doc.plan_id)) if doc.plan_id else None,
            name=doc.name,
            respondents=doc.respondents,
            intent_calibration=doc.intent_calibration,
            created_at=doc.created_at,
            revision=doc.revision,
            doc=doc,
        )


@strawberry.input
class LadderAnswerInput:
    price_cents: Cents
    intent: int = strawberry.field(description="Purchase intent, 5 (definitely) to 1.")


@strawberry.input(
    description="One respondent: the four prices (all or none), the intents at "
    "cheap and expensive (both or neither), and any ladder answers."
)
class WtpResponseInput:
    too_cheap_cents: Cents | None = None
    cheap_cents: Cents | None = None
    expensive_cents: Cents | None = None
    too_expensive_cents: Cents | None = None
    intent_at_cheap: int | None = None
    intent_at_expensive: int | None = None
    ladder: list[LadderAnswerInput] = strawberry.field(default_factory=list)


@strawberry.input
class CreateWtpSurveyInput:
    product_id: strawberry.ID
    segment_id: strawberry.ID
    responses: list[WtpResponseInput]
    plan_id: strawberry.ID | None = None
    name: str = ""
    intent_calibration: list[float] | None = strawberry.field(
        default=None, description="Intents 5 down to 1; default 0.7, 0.5, 0.3, 0.1, 0."
    )


def response(r: WtpResponseInput) -> use_case.ResponseInput:
    return use_case.ResponseInput(
        too_cheap_cents=r.too_cheap_cents,
        cheap_cents=r.cheap_cents,
        expensive_cents=r.expensive_cents,
        too_expensive_cents=r.too_expensive_cents,
        intent_at_cheap=r.intent_at_cheap,
        intent_at_expensive=r.intent_at_expensive,
        ladder=tuple((a.price_cents, a.intent) for a in r.ladder),
    )


WtpSurveyResult = Annotated[
    WtpSurvey | ValidationError | NotFoundError, strawberry.union("WtpSurveyResult")
]


@strawberry.type
class WtpQuery:
    @query()
    async def wtp_surveys(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        segment_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[WtpSurvey]:
        page = await use_case.list_surveys(info.context.ctx, product_id, segment_id, (first, after))
        return connection(page, WtpSurvey.from_model)

    @query()
    async def wtp_survey(self, info: Info, id: strawberry.ID) -> WtpSurvey | None:
        doc = await use_case.get_survey(info.context.ctx, id)
        return WtpSurvey.from_model(doc) if doc else None


@strawberry.type
class WtpMutation:
    @mutation(description="A survey from its responses (JSON).")
    async def create_wtp_survey(self, info: Info, input: CreateWtpSurveyInput) -> WtpSurveyResult:
        doc = await use_case.create_survey(
            info.context.ctx,
            input.product_id,
            input.segment_id,
            input.plan_id,
            input.name,
            [response(r) for r in input.responses],
            input.intent_calibration,
        )
        return WtpSurvey.from_model(doc)

    @mutation(
        description="A survey from a CSV file (multipart upload), one respondent a row: "
        "too_cheap_cents, cheap_cents, expensive_cents, too_expensive_cents, intent_at_cheap, "
        "intent_at_expensive, and intent_at_<cents> per ladder price; empty cells were not "
        "asked. Any invalid cell rejects the file, naming its rows."
    )
    async def import_wtp_survey(
        self,
        info: Info,
        product_id: strawberry.ID,
        segment_id: strawberry.ID,
        file: Upload,
        plan_id: strawberry.ID | None = None,
        name: str = "",
    ) -> WtpSurveyResult:
        if not isinstance(file, UploadFile):  # a plain value where the file part belongs
            raise ValidationFailed.single("file", "must be a file part of a multipart request")
        try:
            doc = await use_case.import_survey(
                info.context.ctx, product_id, segment_id, plan_id, name, file.read
            )
        finally:
            await file.close()
        return WtpSurvey.from_model(doc)
