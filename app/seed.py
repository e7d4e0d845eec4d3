"""A deterministic synthetic dataset generated from planted parameters.

The parameters (true elasticity per plan, true lift per experiment, trend and seasonality per
revenue series) are stored in a `SeedManifest`, so tests and benchmarks can check that the
platform recovers them. Generation is pure; `seed()` writes the result for one tenant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from beanie import PydanticObjectId

from app.analytics.calendar import add_months
from app.analytics.wtp import INTENT_CALIBRATION
from app.models import (
    Customer,
    CustomerSegment,
    Experiment,
    ExperimentArm,
    ExperimentEvent,
    ExperimentUnit,
    PricingPlan,
    Product,
    RevenuePoint,
    RevenueSeries,
    SeedManifest,
    SegmentPlanLink,
    TenantScope,
)
from app.models.competitor import CompetitorAnalysis, MarketIntelligence, PricePoint
from app.models.customer_value import Order
from app.models.product import Competitor, CompetitorPlan, CostLine, CostPer
from app.models.report import Report, Schedule, TimeRange
from app.models.scoring import (
    AccountList,
    AccountScore,
    FileFormat,
    Rule,
    RuleKind,
    ScenarioStatus,
    ScoringCriterion,
    ScoringMethod,
    ScoringScenario,
    ValueScore,
)
from app.models.wtp import PsmAnswers, WtpSurvey
from app.resolvers import scoring, scoring_calc
from app.resolvers.report import scheduled
from app.resolvers.report_template import BUILT_IN
from app.resolvers.segment import refresh_metrics

MONTHS = 36
START_MONTH = date(2023, 1, 1)
PRODUCTS = ("Acme Analytics", "Acme Storage")
# name, monthly price in cents, unit cost in cents, true price elasticity of conversion
PLANS = (
    ("Starter", 2_900, 600, -1.6),
    ("Pro", 9_900, 1_800, -1.1),
    ("Enterprise", 39_900, 6_000, -0.6),
)
SEGMENTS = (
    ("SMB Europe", {"company_size": "smb", "region": "eu"}),
    ("SMB North America", {"company_size": "smb", "region": "na"}),
    ("Mid-market", {"company_size": "mid"}),
    ("Enterprise", {"company_size": "enterprise"}),
)
SIZES = ("smb", "mid", "enterprise")
REGIONS = ("eu", "na", "apac")
SERIES_MODEL = (
    "subscriptions = base * (1 + monthly_trend)^t"
    " * (1 + seasonal_amplitude * sin(2 pi (t + seasonal_phase) / 12)) * exp(N(0, noise_sigma))"
)
PLAN_BY_SIZE = {"smb": 0, "mid": 1, "enterprise": 2}


@dataclass
class Dataset:
    products: list[Product] = field(default_factory=list)
    plans: list[PricingPlan] = field(default_factory=list)
    segments: list[CustomerSegment] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    series: list[RevenueSeries] = field(default_factory=list)
    experiments: list[Experiment] = field(default_factory=list)
    events: list[ExperimentEvent] = field(default_factory=list)
    units: list[ExperimentUnit] = field(default_factory=list)
    links: list[SegmentPlanLink] = field(default_factory=list)
    planted: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(value) for name, value in vars(self).items() if isinstance(value, list)}


def month(offset: int) -> date:
    years, months = divmod(START_MONTH.month - 1 + offset, 12)
    return date(START_MONTH.year + years, months + 1, 1)


def generate(tenant_id: str, seed: int = 7, customers_per_product: int = 1000) -> Dataset:
    rng = np.random.default_rng(seed)
    data = Dataset(planted={"plans": {}, "experiments": {}, "series": {}})
    for name in PRODUCTS:
        product = Product(
            id=PydanticObjectId(),
            tenant_id=tenant_id,
            name=name,
            description=f"{name}: a synthetic product of the demo dataset",
            **CATALOG,
        )
        data.products.append(product)
        plans = _plans(data, product)
        segments = _segments(data, product)
        _customers(data, rng, product, plans, customers_per_product)
        for segment in segments:
            for plan in plans:
                _series(data, rng, product, segment, plan)
        _links(data, segments, plans)
        _experiment(data, rng, product, plans[1])
    return data


# The catalog fields of the demo products: realistic, not planted (nothing is estimated).
CATALOG: dict[str, Any] = {
    "icp_description": "B2B software teams of 10 to 500 people paying by card or invoice",
    "feature_summary": "Dashboards, alerts, SSO, audit log, API access",
    "cost_lines": [
        CostLine(name="compute", amount_cents=350, per=CostPer.UNIT),
        CostLine(name="storage", amount_cents=120, per=CostPer.UNIT),
        CostLine(name="support", amount_cents=900, per=CostPer.MONTH),
    ],
    "competitors": [
        Competitor(
            name="Metricly",
            website="https://metricly.example.com",
            description="Self-serve analytics for small teams",
            plans=[CompetitorPlan(name="Team", price_cents=4_900)],
        ),
        Competitor(
            name="DataForge",
            website="https://dataforge.example.com",
            description="Enterprise data platform",
            plans=[CompetitorPlan(name="Enterprise", price_cents=49_900)],
        ),
    ],
    "documentation_urls": ["https://docs.example.com/acme"],
}
FEATURES = ("Dashboards", "Alerts", "API access", "SSO", "Audit log", "Dedicated support")


def _links(data: Dataset, segments: list[CustomerSegment], plans: list[PricingPlan]) -> None:
    """Each segment's finalised plan is the one its customers are on (PLAN_BY_SIZE)."""
    for segment in segments:
        plan = plans[PLAN_BY_SIZE[segment.filter["company_size"]]]
        data.links.append(
            SegmentPlanLink(
                tenant_id=segment.tenant_id,
                product_id=segment.product_id,
                segment_id=segment.id,
                plan_id=plan.id,
            )
        )


def _plans(data: Dataset, product: Product) -> list[PricingPlan]:
    plans: list[PricingPlan] = []
    for name, price, cost, elasticity in PLANS:
        plan = PricingPlan(
            id=PydanticObjectId(),
            tenant_id=product.tenant_id,
            product_id=product.id,
            name=name,
            unit_price_cents=price,
            unit_cost_cents=cost,
            description=f"{name} plan, billed per seat and month",
            features=list(FEATURES[: 2 + len(plans) * 2]),
            unit_calculation_logic="active seats at the end of the billing month",
        )
        data.planted["plans"][str(plan.id)] = {"elasticity": elasticity}
        plans.append(plan)
    data.plans.extend(plans)
    return plans


def _segments(data: Dataset, product: Product) -> list[CustomerSegment]:
    segments = [
        CustomerSegment(
            id=PydanticObjectId(),
            tenant_id=product.tenant_id,
            product_id=product.id,
            name=name,
            filter=dict(query),
            description=f"Customers where {query}",
        )
        for name, query in SEGMENTS
    ]
    data.segments.extend(segments)
    return segments


def _customers(
    data: Dataset, rng: np.random.Generator, product: Product, plans: list[PricingPlan], count: int
) -> None:
    sizes = rng.choice(SIZES, size=count, p=[0.6, 0.3, 0.1])
    regions = rng.choice(REGIONS, size=count, p=[0.4, 0.4, 0.2])
    seats = np.maximum(1, np.round(rng.lognormal(1.0, 0.8, size=count))).astype(int)
    signup_days = rng.integers(0, MONTHS * 30, size=count)
    churn = rng.random(count) < 0.12
    churn_after = rng.integers(30, 400, size=count)
    origin = datetime(START_MONTH.year, START_MONTH.month, 1, tzinfo=UTC)
    for i in range(count):
        plan = plans[PLAN_BY_SIZE[str(sizes[i])]]
        signup = origin + timedelta(days=int(signup_days[i]))
        data.customers.append(
            Customer(
                tenant_id=product.tenant_id,
                product_id=product.id,
                external_id=f"cus_{i:06d}",
                plan_id=plan.id,
                region=str(regions[i]),
                company_size=str(sizes[i]),
                monthly_revenue_cents=int(plan.unit_price_cents * seats[i]),
                usage=float(seats[i]),
                signup_at=signup,
                churned_at=signup + timedelta(days=int(churn_after[i])) if churn[i] else None,
            )
        )


def _series(
    data: Dataset,
    rng: np.random.Generator,
    product: Product,
    segment: CustomerSegment,
    plan: PricingPlan,
) -> None:
    trend = float(rng.uniform(-0.005, 0.03))  # monthly growth rate
    amplitude = float(rng.uniform(0.0, 0.25))
    phase = int(rng.integers(0, 12))
    noise = 0.03
    base_subscriptions = float(rng.uniform(40, 400))
    t = np.arange(MONTHS)
    level = base_subscriptions * (1 + trend) ** t
    seasonal = 1 + amplitude * np.sin(2 * math.pi * (t + phase) / 12)
    subscriptions = np.round(level * seasonal * np.exp(rng.normal(0, noise, MONTHS))).astype(int)
    series = RevenueSeries(
        id=PydanticObjectId(),
        tenant_id=product.tenant_id,
        product_id=product.id,
        segment_id=segment.id,
        plan_id=plan.id,
        points=[
            RevenuePoint(
                period=month(i),
                active_subscriptions=int(subs),
                revenue_cents=int(subs) * plan.unit_price_cents,
            )
            for i, subs in enumerate(subscriptions)
        ],
    )
    data.planted["series"][str(series.id)] = {
        "monthly_trend": trend,
        "seasonal_amplitude": amplitude,
        "seasonal_phase": phase,
        "noise_sigma": noise,
        "base_subscriptions": base_subscriptions,
        "model": SERIES_MODEL,
    }
    data.series.append(series)


def _experiment(
    data: Dataset,
    rng: np.random.Generator,
    product: Product,
    plan: PricingPlan,
    units_per_arm: int = 4000,
) -> None:
    elasticity = data.planted["plans"][str(plan.id)]["elasticity"]
    price_ratio, base_conversion = 1.2, 0.08
    variant_price = round(plan.unit_price_cents * price_ratio)
    arms = [
        ExperimentArm(
            key="control",
            plan_id=plan.id,
            price_cents=plan.unit_price_cents,
            traffic_share=0.5,
            control=True,
        ),
        ExperimentArm(key="variant", plan_id=plan.id, price_cents=variant_price, traffic_share=0.5),
    ]
    started = datetime(2025, 6, 1, tzinfo=UTC)
    experiment = Experiment(
        id=PydanticObjectId(),
        tenant_id=product.tenant_id,
        product_id=product.id,
        key=f"{plan.name.lower()}-price-{product.name.split()[-1].lower()}",
        name=f"{product.name} {plan.name} +20%",
        status="running",
        started_at=started,
        arms=arms,
        hypothesis="A 20% higher price loses less conversion than it gains in revenue",
    )
    conversions = {"control": base_conversion, "variant": base_conversion * price_ratio**elasticity}
    for arm in arms:
        converted = rng.random(units_per_arm) < conversions[arm.key]
        for unit in range(units_per_arm):
            unit_id = f"{arm.key}-{unit:05d}"
            at = started + timedelta(minutes=unit)
            data.events.append(_event(experiment, arm.key, unit_id, "exposure", 0, at))
            if converted[unit]:
                data.events.append(
                    _event(
                        experiment,
                        arm.key,
                        unit_id,
                        "conversion",
                        arm.price_cents,
                        at + timedelta(minutes=5),
                    )
                )
    data.planted["experiments"][str(experiment.id)] = {
        "conversion": conversions,
        "true_relative_lift": price_ratio**elasticity - 1,
        "price_ratio": price_ratio,
        "elasticity": elasticity,
    }
    data.experiments.append(experiment)
    data.units.extend(units_of(data.events, experiment))


def units_of(events: list[ExperimentEvent], experiment: Experiment) -> list[ExperimentUnit]:
    """The per-unit totals the API reads results from (what ingestion would have flushed)."""
    units: dict[str, ExperimentUnit] = {}
    flags = {"exposure": "exposed", "conversion": "converted", "refund": "refunded"}
    for event in events:
        if event.experiment_id != experiment.id:
            continue
        unit = units.setdefault(
            event.unit_id,
            ExperimentUnit(
                tenant_id=experiment.tenant_id,
                experiment_id=experiment.id,
                unit_id=event.unit_id,
                arm=event.arm,
            ),
        )
        if event.kind in flags:
            setattr(unit, flags[event.kind], 1)
        unit.churned |= event.kind == "churn"
        unit.revenue_cents += (
            -event.revenue_cents if event.kind == "refund" else event.revenue_cents
        )
    return list(units.values())


def _event(
    experiment: Experiment, arm: str, unit_id: str, kind: str, revenue: int, at: datetime
) -> ExperimentEvent:
    return ExperimentEvent(
        tenant_id=experiment.tenant_id,
        experiment_id=experiment.id,
        event_id=f"{experiment.key}:{unit_id}:{kind}",
        unit_id=unit_id,
        arm=arm,
        kind=kind,
        revenue_cents=revenue,
        occurred_at=at,
    )


SCORING_COLUMNS = ["id", "name", "employees", "industry"]
INDUSTRIES = ("saas", "retail", "health", "finance")


async def _scoring(scope: TenantScope, rng: np.random.Generator) -> None:
    """A scored scenario of 30 accounts with two rule criteria and a manual one."""
    rows = [
        [f"acct-{i}", f"Account {i}", str(int(rng.integers(5, 5000))), INDUSTRIES[i % 4]]
        for i in range(30)
    ]
    listed = AccountList(
        file_id=PydanticObjectId(),  # the demo's list was never a file
        filename="demo-accounts.csv",
        format=FileFormat.CSV,
        bytes=0,
        encoding="utf-8",
        delimiter=",",
        columns=SCORING_COLUMNS,
        preview=rows[:10],
        id_column="id",
        name_column="name",
        row_count=len(rows),
    )
    scenario = await scope.insert(
        ScoringScenario(
            tenant_id=scope.tenant_id,
            name="Demo: enterprise targets",
            created_by="seed",
            account_list=listed,
            status=ScenarioStatus.COMPLETED,
        )
    )
    rules = [
        ("Size", 3, Rule(kind=RuleKind.LINEAR, column="employees", low=0, high=2000)),
        (
            "Industry fit",
            1,
            Rule(
                kind=RuleKind.CATEGORY,
                column="industry",
                values=[ValueScore(value="saas", score=9), ValueScore(value="finance", score=7)],
                default_score=3,
            ),
        ),
    ]
    criteria = [
        await scope.insert(
            ScoringCriterion(
                tenant_id=scope.tenant_id,
                scenario_id=scenario.id,
                name=name,
                weight=weight,
                method=ScoringMethod.RULE,
                rule=rule,
            )
        )
        for name, weight, rule in rules
    ]
    criteria.append(
        await scope.insert(
            ScoringCriterion(
                tenant_id=scope.tenant_id,
                scenario_id=scenario.id,
                name="Champion",
                weight=2,
                method=ScoringMethod.MANUAL,
            )
        )
    )
    columns = [
        scoring_calc.rule_scores(c, [r[SCORING_COLUMNS.index(c.rule.column)] for r in rows])
        for c in criteria
        if c.rule
    ]
    matrix = np.column_stack([*columns, np.full(len(rows), np.nan)])
    totals = scoring.score_accounts(matrix, criteria, scenario.tiers)
    for i, (row, total) in enumerate(zip(rows, totals, strict=True)):
        entries = [
            {"criterion_id": c.id, "score": int(matrix[i, j]), "method": c.method}
            for j, c in enumerate(criteria[:2])
        ]
        await scope.insert(
            AccountScore(
                tenant_id=scope.tenant_id,
                scenario_id=scenario.id or PydanticObjectId(),
                row=i + 2,
                account_id=row[0],
                account_name=row[1],
                values=row,
                criterion_scores=entries,
                calculated_at=datetime.now(UTC),
                **total,
            )
        )


async def _survey(scope: TenantScope, segment: CustomerSegment, rng: np.random.Generator) -> None:
    """A Van Westendorp survey of 200 respondents of the first segment, willingness to pay
    spread around $49 (each answer a step above the last, so every response is consistent)."""
    base = rng.lognormal(np.log(4_900), 0.3, 200)
    steps = [(base * factor).round().astype(int).tolist() for factor in (0.5, 0.8, 1.2, 1.6)]
    await scope.insert(
        WtpSurvey(
            tenant_id=scope.tenant_id,
            product_id=segment.product_id,
            segment_id=segment.id or PydanticObjectId(),
            name="Demo: price sensitivity of the first segment",
            respondents=200,
            psm=PsmAnswers(
                too_cheap_cents=steps[0],
                cheap_cents=steps[1],
                expensive_cents=steps[2],
                too_expensive_cents=steps[3],
            ),
            intent_calibration=list(INTENT_CALIBRATION),
        )
    )


async def _intelligence(scope: TenantScope, product: Product) -> None:
    """A year of each competitor's list prices (raised once) and the product's market."""
    today = date.today().replace(day=1)
    for competitor in product.competitors:
        for plan in competitor.plans:
            points = [
                PricePoint(
                    date=add_months(today, -months),
                    plan_name=plan.name,
                    price_cents=plan.price_cents if months < 6 else plan.price_cents * 9 // 10,
                )
                for months in range(11, -1, -1)
            ]
            await scope.insert(
                CompetitorAnalysis(
                    tenant_id=scope.tenant_id,
                    product_id=product.id or PydanticObjectId(),
                    competitor_name=competitor.name,
                    price_points=points,
                    market_position=competitor.description,
                )
            )
    await scope.insert(
        MarketIntelligence(
            tenant_id=scope.tenant_id,
            product_id=product.id or PydanticObjectId(),
            market_segment="Product analytics for SaaS teams",
            market_size_cents=4_200_000_000_00,
            growth_rate=0.12,
            key_insights=["Competitors raised list prices about 10% six months ago"],
            data_date=today,
        )
    )


async def _orders(scope: TenantScope, customers: list[Customer], rng: np.random.Generator) -> None:
    """Orders of the customers' lifetimes (monthly purchases that may lapse), so that a
    customer value model can be fitted on the demo tenant."""
    now = datetime.now(UTC)
    orders = []
    for customer in customers:
        end = customer.churned_at or now
        months = max(int((end - customer.signup_at).days // 30), 1)
        buying = rng.random(months) < rng.uniform(0.2, 0.9)
        for month in np.flatnonzero(buying):
            orders.append(
                Order(
                    tenant_id=scope.tenant_id,
                    customer_id=customer.id or PydanticObjectId(),
                    order_id=f"demo-{customer.id}-{month}",
                    amount_cents=max(customer.monthly_revenue_cents, 100),
                    at=customer.signup_at + timedelta(days=30 * int(month)),
                )
            )
    if orders:
        await Order.insert_many(orders)


async def _report(scope: TenantScope, product_id: Any) -> None:
    """The built-in monthly revenue report of the first product, due at 09:00 Berlin time
    on the first of each month."""
    template = next(t for t in BUILT_IN if t.id == "monthly_revenue_report")
    report = Report(
        tenant_id=scope.tenant_id,
        name=f"Demo: {template.name}",
        product_id=product_id,
        sections=template.sections,
        time_range=TimeRange(relative=template.relative),
        schedule=Schedule(cron="0 9 1 * *", timezone="Europe/Berlin"),
        template=template.id,
    )
    report.next_scheduled = scheduled(report, datetime.now(UTC))
    await scope.insert(report)


async def seed(
    scope: TenantScope, seed: int = 7, customers_per_product: int = 1000
) -> SeedManifest:
    """Write the dataset for the scope's tenant, once; a second call returns the manifest."""
    existing = await scope.find(SeedManifest, {"seed": seed}).first_or_none()
    if existing is not None:
        return existing
    data = generate(scope.tenant_id, seed, customers_per_product)
    for docs in (
        data.products,
        data.plans,
        data.segments,
        data.customers,
        data.series,
        data.experiments,
        data.events,
        data.units,
        data.links,
    ):
        if docs:
            await type(docs[0]).insert_many(docs)
    for segment in data.segments:  # as the import's metrics step would
        await refresh_metrics(scope, segment)
    await _scoring(scope, np.random.default_rng(seed))
    await _report(scope, data.products[0].id)
    await _intelligence(scope, data.products[0])
    await _survey(scope, data.segments[0], np.random.default_rng(seed))
    customers = await scope.find(Customer, {}).sort("external_id").limit(300).to_list()
    await _orders(scope, customers, np.random.default_rng(seed))
    manifest = SeedManifest(
        tenant_id=scope.tenant_id, seed=seed, planted=data.planted, counts=data.counts()
    )
    return await scope.insert(manifest)
