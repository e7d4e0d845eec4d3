"""Forecast every revenue series of a product, then look for anomalies and raise alerts.

Series are forecast in batches (one step each), so a long run resumes where it stopped and
equally long series are fitted together (vectorised). Alerts come from three series of each
contribution: revenue (drops), net churn of active subscriptions (spikes) and average
revenue per subscription (price anomalies, either way); see app/analytics/anomaly.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from app.analytics.anomaly import (
    Anomaly,
    revenue_drops,
    revenue_per_subscription_anomalies,
    subscription_churn_spikes,
)
from app.analytics.calendar import add_months
from app.analytics.forecast import ForecastResult, forecast_many
from app.models.alert import Alert, AlertKind
from app.models.base import utcnow
from app.models.revenue import ForecastPoint, RevenueSeries, SeriesForecast
from app.models.run import LogLevel, OrchestrationRun, RunStep
from app.resolvers.alert import ALERT_TOPIC, FORECAST_RUN, event_data
from app.resolvers.ctx import ResolverCtx
from app.resolvers.revenue import FORECASTS_CHANGED, revenue_changed
from app.workflows.base import StepContext, Workflow

BATCH = 200
LEVEL = 95.0
RECENT_MONTHS = 3  # alerts look at the newest months only; older ones were seen before


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    query = {"product_id": run.product_id} if run.product_id else {}
    found = RevenueSeries.get_pymongo_collection().find(ctx.scope.filter(query), {"_id": 1})
    ids = [str(doc["_id"]) async for doc in found.sort("_id")]  # ids only: the steps load
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
    steps = [
        RunStep(
            name=f"forecast series {i * BATCH + 1}-{i * BATCH + len(b)}",
            kind="forecast",
            order=i,
            input={"seriesIds": b},
        )
        for i, b in enumerate(batches)
    ]
    return [
        *steps,
        RunStep(name="detect anomalies", kind="alerts", order=len(steps), input={"seriesIds": ids}),
    ]


async def load(ctx: ResolverCtx, ids: list[str]) -> list[RevenueSeries]:
    oids = [ObjectId(i) for i in ids]
    return await ctx.scope.find(RevenueSeries, {"_id": {"$in": oids}}).sort("_id").to_list()


def chart(result: ForecastResult, last: date) -> list[ForecastPoint]:
    return [
        ForecastPoint(
            period=add_months(last, p.step),
            value=p.value,
            lower=p.lower[LEVEL],
            upper=p.upper[LEVEL],
        )
        for p in result.points
    ]


def forecast_series(
    series: list[RevenueSeries], horizon: int
) -> tuple[list[ForecastResult], list[ForecastResult]]:
    """Revenue and active subscriptions of each series, forecast."""
    revenue = forecast_many(
        [[p.revenue_cents for p in s.points] for s in series], horizon, levels=(80.0, LEVEL)
    )
    subscriptions = forecast_many(
        [[p.active_subscriptions for p in s.points] for s in series], horizon, levels=(80.0, LEVEL)
    )
    return revenue, subscriptions


async def forecast_step(step: StepContext) -> dict[str, Any]:
    horizon = int(step.run.parameters.get("horizon", 12))
    ids = step.step.input["seriesIds"]
    series = [s for s in await load(step.ctx, ids) if s.points]
    revenue, subscriptions = await step.compute(forecast_series, series, horizon)
    for doc, rev, subs in zip(series, revenue, subscriptions, strict=True):
        last = doc.points[-1].period
        stored = SeriesForecast(
            model=rev.model,
            level=LEVEL / 100,
            computed_at=utcnow(),
            revenue=chart(rev, last),
            active_subscriptions=chart(subs, last),
        )
        await step.ctx.scope.update(doc, {"forecast": stored.model_dump()})
    await revenue_changed(step.ctx, FORECASTS_CHANGED, series)
    models = sorted({r.model for r in revenue})
    await step.log(LogLevel.INFO, f"{len(series)} series forecast; models: {', '.join(models)}")
    return {"series": len(series), "models": models}


async def alerts_step(step: StepContext) -> dict[str, Any]:
    docs = [d for d in await load(step.ctx, step.step.input["seriesIds"]) if len(d.points) >= 2]
    found = await step.compute(lambda: [detect(doc) for doc in docs])
    raised = 0
    for doc, anomalies in zip(docs, found, strict=True):
        raised += await raise_alerts(step.ctx, doc, anomalies)
    await step.log(LogLevel.INFO, f"{raised} new alerts")
    return {"alerts": raised}


def money(cents: float, currency: str, decimals: int) -> str:
    return f"{cents / 100:,.{decimals}f} {currency}"


# What each kind measures, and how its actual and expected values read.
MEASURES: dict[AlertKind, tuple[str, Callable[[float, str], str]]] = {
    AlertKind.REVENUE_DROP: ("revenue", lambda v, c: money(v, c, 0)),
    AlertKind.CHURN_SPIKE: (
        "net churn (the share of subscriptions lost, net of new ones)",
        lambda v, c: f"{v:.1%}",
    ),
    AlertKind.PRICE_ANOMALY: ("average revenue per subscription", lambda v, c: money(v, c, 2)),
}


def describe(kind: AlertKind, anomaly: Anomaly, period: date, currency: str) -> str:
    what, show = MEASURES[kind]
    change = "" if anomaly.deviation_pct is None else f" ({anomaly.deviation_pct:+.0f}%)"
    return (
        f"{what} of {period:%B %Y} is {show(anomaly.actual, currency)}{change} against the "
        f"{show(anomaly.expected, currency)} its trend and season lead to expect"
    )


def detect(doc: RevenueSeries) -> list[tuple[AlertKind, Anomaly]]:
    """The newest months' anomalies of the series' revenue, churn and revenue per subscription."""
    revenue = np.array([p.revenue_cents for p in doc.points], dtype=float)
    subscriptions = np.array([p.active_subscriptions for p in doc.points], dtype=float)
    found = {
        AlertKind.REVENUE_DROP: revenue_drops(revenue, last=RECENT_MONTHS).anomalies,
        AlertKind.CHURN_SPIKE: subscription_churn_spikes(subscriptions, last=RECENT_MONTHS),
        AlertKind.PRICE_ANOMALY: revenue_per_subscription_anomalies(
            revenue, subscriptions, last=RECENT_MONTHS
        ),
    }
    return [(kind, anomaly) for kind, anomalies in found.items() for anomaly in anomalies]


async def raise_alerts(
    ctx: ResolverCtx, doc: RevenueSeries, anomalies: list[tuple[AlertKind, Anomaly]]
) -> int:
    raised = 0
    for kind, anomaly in anomalies:
        period = doc.points[anomaly.index].period
        key = {"series_id": doc.id, "kind": kind, "period": period}
        try:
            alert = await ctx.scope.insert(
                Alert(
                    tenant_id=ctx.tenant_id,
                    product_id=doc.product_id,
                    plan_id=doc.plan_id,
                    segment_id=doc.segment_id,
                    severity=anomaly.severity,
                    actual=anomaly.actual,
                    expected=anomaly.expected,
                    deviation_percent=anomaly.deviation_pct,
                    z_score=anomaly.z,
                    message=describe(kind, anomaly, period, doc.currency),
                    **key,
                )
            )
        except DuplicateKeyError:
            continue  # another run raised it a moment ago
        await ctx.publish(ALERT_TOPIC, "alertRaised", event_data(alert))
        raised += 1
    return raised


WORKFLOW = Workflow(
    spec=FORECAST_RUN,
    plan=plan,
    steps={"forecast": forecast_step, "alerts": alerts_step},
)
