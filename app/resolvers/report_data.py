"""The figures of a report, per data block, for its time range: taken from the platform's
analytics (revenue attribution, forecasts, experiment results, segment metrics, alerts,
plan economics), never invented. Each block gives facts (which the AI layer cites and the
server verifies), a table (shown and exported as CSV) and, for revenue, the monthly series
the charts are drawn from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from app.ai.citations import Fact, Unit
from app.models import CustomerSegment, PricingPlan, Product, RevenueSeries
from app.models.alert import Alert
from app.models.experiment import Experiment, ExperimentStatus
from app.models.report import DataBlock, ReportTable
from app.resolvers.ctx import ResolverCtx
from app.resolvers.diagnosis import slug
from app.resolvers.experiment_results import compute
from app.resolvers.projection import plan_economics
from app.resolvers.revenue import attribution


@dataclass
class Figures:
    facts: dict[str, Fact] = field(default_factory=dict)
    tables: list[ReportTable] = field(default_factory=list)
    monthly: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # chart series
    blocks: dict[str, list[str]] = field(default_factory=dict)  # block -> its fact keys

    def of(self, blocks: list[DataBlock]) -> tuple[dict[str, Fact], list[ReportTable]]:
        """The facts and tables of some blocks (of all, when none are named)."""
        if not blocks:
            return self.facts, self.tables
        names = {b.value for b in blocks}
        keys = {k for b in names for k in self.blocks.get(b, [])}
        return {k: f for k, f in self.facts.items() if k in keys}, [
            t for t in self.tables if t.block in names
        ]

    def empty(self) -> bool:
        return not any(table.rows for table in self.tables)

    def dump(self) -> dict[str, Any]:
        """The checkpoint of the gathering step (a run's step output is JSON)."""
        return {
            "facts": {k: [f.value, f.unit.value, f.label] for k, f in self.facts.items()},
            "tables": [t.model_dump() for t in self.tables],
            "monthly": self.monthly,
            "blocks": self.blocks,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Figures:
        return cls(
            facts={k: Fact(v, Unit(u), label) for k, (v, u, label) in data["facts"].items()},
            tables=[ReportTable.model_validate(t) for t in data["tables"]],
            monthly={k: [(p, int(c)) for p, c in v] for k, v in data["monthly"].items()},
            blocks=data["blocks"],
        )


def money(cents: float) -> str:
    return Fact(cents, Unit.CENTS, "").shown()


def percent(ratio: float) -> str:
    return Fact(ratio, Unit.RATIO, "").shown()


@dataclass(frozen=True)
class Period:
    product: Product
    start: date
    end: date  # included
    prefix: str  # "" for a single product, its slug and a dot otherwise

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def title(self, title: str) -> str:
        return f"{title} — {self.product.name}"


async def revenue_block(ctx: ResolverCtx, p: Period, out: Figures) -> None:
    found = await attribution(ctx.scope, str(p.product.id), p.start, p.end + timedelta(days=1))
    label = f"revenue {p.start:%d %b %Y} to {p.end:%d %b %Y}"
    out.facts[p.key("revenue.total_cents")] = Fact(found.total_revenue_cents, Unit.CENTS, label)
    rows: list[list[Any]] = []
    for item in found.items:
        rows.append([item.plan.name, item.segment.name, money(item.revenue_cents)])
        rows[-1] += [percent(item.share), item.users]
    per_plan: dict[str, int] = {}
    for item in found.items:
        per_plan[item.plan.name] = per_plan.get(item.plan.name, 0) + item.revenue_cents
    for name, cents in per_plan.items():
        key = p.key(f"revenue.plan.{slug(name)}")
        out.facts[f"{key}.cents"] = Fact(cents, Unit.CENTS, f"{name} {label}")
        share = cents / found.total_revenue_cents if found.total_revenue_cents else 0.0
        out.facts[f"{key}.share"] = Fact(share, Unit.RATIO, f"{name} share of revenue")
    columns = ["Plan", "Segment", "Revenue", "Share", "Users"]
    out.tables.append(ReportTable(title=p.title("Revenue attribution"), columns=columns, rows=rows))
    for plan_id, points in found.monthly_by_plan.items():
        name = found.plans[plan_id].name
        out.monthly[f"{p.prefix}{name}"] = [(d.isoformat(), cents) for d, cents in points]


async def economics_block(ctx: ResolverCtx, p: Period, out: Figures) -> None:
    plans = ctx.scope.find(PricingPlan, {"product_id": p.product.id, "active": True}).sort("name")
    rows = []
    for plan in await plans.to_list():
        _, e, customers = await plan_economics(ctx.scope, str(plan.id), None)
        key = p.key(f"plan.{slug(plan.name)}")
        out.facts[f"{key}.price_cents"] = Fact(e.price_cents, Unit.CENTS, f"{plan.name} price")
        out.facts[f"{key}.gross_margin"] = Fact(e.gross_margin, Unit.RATIO, f"{plan.name} margin")
        out.facts[f"{key}.arpu_cents"] = Fact(e.arpu_cents, Unit.CENTS, f"{plan.name} ARPU")
        out.facts[f"{key}.monthly_churn"] = Fact(e.monthly_churn, Unit.RATIO, f"{plan.name} churn")
        ltv = money(e.ltv_cents) if e.ltv_cents is not None else "n/a"
        row: list[Any]
        row = [plan.name, money(e.price_cents), percent(e.gross_margin), money(e.arpu_cents)]
        rows.append([*row, percent(e.monthly_churn), ltv, customers])
    columns = ["Plan", "Price", "Gross margin", "ARPU", "Monthly churn", "LTV", "Customers"]
    out.tables.append(ReportTable(title=p.title("Plan economics"), columns=columns, rows=rows))


async def segments_block(ctx: ResolverCtx, p: Period, out: Figures) -> None:
    found = ctx.scope.find(CustomerSegment, {"product_id": p.product.id}).sort("name")
    rows = []
    for segment in await found.to_list():
        m, key = segment.metrics, p.key(f"segment.{slug(segment.name)}")
        out.facts[f"{key}.active_users"] = Fact(m.active_users, Unit.COUNT, f"{segment.name} users")
        out.facts[f"{key}.avg_revenue_cents"] = Fact(
            m.avg_revenue_cents, Unit.CENTS, f"{segment.name} average monthly revenue"
        )
        out.facts[f"{key}.churn_rate"] = Fact(m.churn_rate, Unit.RATIO, f"{segment.name} churn")
        rows.append([segment.name, m.active_users, money(m.avg_revenue_cents)])
        rows[-1].append(percent(m.churn_rate))
    columns = ["Segment", "Active users", "Average revenue", "Churn"]
    out.tables.append(ReportTable(title=p.title("Segment metrics"), columns=columns, rows=rows))


async def forecasts_block(ctx: ResolverCtx, p: Period, out: Figures) -> None:
    series = await ctx.scope.find(RevenueSeries, {"product_id": p.product.id}).to_list()
    months: dict[str, float] = {}
    for s in series:
        for point in s.forecast.revenue if s.forecast else []:
            months[point.period.isoformat()] = months.get(point.period.isoformat(), 0.0)
            months[point.period.isoformat()] += point.value
    rows: list[list[Any]] = [[period, money(v)] for period, v in sorted(months.items())]
    if months:
        total = sum(months.values())
        label = f"forecast revenue, next {len(months)} months"
        out.facts[p.key("forecast.revenue_cents")] = Fact(total, Unit.CENTS, label)
    table = ReportTable(title=p.title("Revenue forecast"), columns=["Month", "Revenue"], rows=rows)
    out.tables.append(table)


async def experiments_block(ctx: ResolverCtx, p: Period, out: Figures) -> None:
    statuses = [ExperimentStatus.RUNNING, ExperimentStatus.COMPLETED]
    query = {"product_id": p.product.id, "status": {"$in": statuses}}
    rows = []
    for experiment in await ctx.scope.find(Experiment, query).sort("name").to_list():
        fit = (await compute(ctx.scope, experiment)).elasticity
        shown = "n/a"
        if fit is not None:
            key = p.key(f"experiment.{slug(experiment.name)}.elasticity")
            label = f"price elasticity, experiment '{experiment.name}'"
            out.facts[key] = Fact(fit.elasticity, Unit.NUMBER, label)
            shown = f"{fit.elasticity:.2f} ({fit.ci.lower:.2f} to {fit.ci.upper:.2f})"
        rows.append([experiment.name, str(experiment.status), shown])
    columns = ["Experiment", "Status", "Elasticity (95% interval)"]
    out.tables.append(ReportTable(title=p.title("Experiments"), columns=columns, rows=rows))


async def alerts_block(ctx: ResolverCtx, p: Period, out: Figures) -> None:
    query = {"product_id": p.product.id, "period": {"$gte": p.start, "$lte": p.end}}
    found = await ctx.scope.find(Alert, query).sort("period").to_list()
    out.facts[p.key("alerts.count")] = Fact(len(found), Unit.COUNT, "alerts in the period")
    rows: list[list[Any]] = [
        [a.period.isoformat(), a.kind.value, a.severity.value, a.message] for a in found
    ]
    columns = ["Period", "Kind", "Severity", "Message"]
    out.tables.append(ReportTable(title=p.title("Alerts"), columns=columns, rows=rows))


BLOCKS = {
    DataBlock.REVENUE_ATTRIBUTION: revenue_block,
    DataBlock.PLAN_ECONOMICS: economics_block,
    DataBlock.SEGMENT_METRICS: segments_block,
    DataBlock.FORECASTS: forecasts_block,
    DataBlock.EXPERIMENT_RESULTS: experiments_block,
    DataBlock.ALERTS: alerts_block,
}


async def gather(
    ctx: ResolverCtx, products: list[Product], blocks: list[DataBlock], start: date, end: date
) -> Figures:
    """The figures of every block any section shows, for each product in the report."""
    out = Figures()
    for product in products:
        prefix = f"{slug(product.name)}." if len(products) > 1 else ""
        period = Period(product, start, end, prefix)
        for block in DataBlock:  # a stable order, whatever order the sections name them
            if block in blocks:
                known, tables = set(out.facts), len(out.tables)
                await BLOCKS[block](ctx, period, out)
                out.blocks.setdefault(block.value, []).extend(
                    k for k in out.facts if k not in known
                )
                for table in out.tables[tables:]:
                    table.block = block.value
    return out
