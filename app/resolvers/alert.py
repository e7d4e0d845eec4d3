"""Alerts: list, acknowledge, resolve; and forecasting runs that raise them."""

from __future__ import annotations

from typing import Any

from app.errors import Conflict, ValidationFailed
from app.models.alert import Alert, AlertStatus
from app.models.base import parse_id, utcnow
from app.models.run import OrchestrationRun, RunStatus, WorkflowType
from app.resolvers import run as runs
from app.resolvers.ctx import ResolverCtx

NEXT = {"acknowledge": AlertStatus.ACKNOWLEDGED, "resolve": AlertStatus.RESOLVED}
ALERT_TOPIC = "alerts"


def event_data(alert: Alert) -> dict[str, Any]:
    """The payload of `alertRaised` and `alertChanged` on ALERT_TOPIC."""
    return {"alertId": str(alert.id), "kind": alert.kind.value}


def validate_forecast_parameters(parameters: dict[str, Any]) -> None:
    horizon = parameters.get("horizon", 12)
    if not isinstance(horizon, int) or not 1 <= horizon <= 36:
        raise ValidationFailed.single("input.parameters.horizon", "must be a whole number 1 to 36")


FORECAST_RUN = runs.WorkflowSpec(
    "revenue_forecast",
    WorkflowType.REVENUE_FORECAST,
    "Forecast revenue and subscriptions, and raise anomaly alerts",
    validate_forecast_parameters,
)


def alert_filter(
    status: str | None, severity: str | None, product_id: str | None, kind: str | None = None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status
    if severity is not None:
        query["severity"] = severity
    if kind is not None:
        query["kind"] = kind
    if product_id is not None:
        query["product_id"] = parse_id(product_id)
    return query


async def act(ctx: ResolverCtx, alert_id: str, action: str) -> Alert:
    alert = await ctx.scope.require(Alert, alert_id)
    target = NEXT[action]
    if alert.status == AlertStatus.RESOLVED or alert.status == target:
        raise Conflict(f"the alert is already {alert.status.value}")
    changes: dict[str, Any] = {"status": target}
    who = ctx.principal.label
    if action == "acknowledge":
        changes["acknowledged_by"] = who
    else:
        changes |= {"resolved_by": who, "resolved_at": utcnow()}
    updated = await ctx.scope.update(alert, changes)
    ctx.audit.record("Alert", alert.id, alert, updated)
    await ctx.publish(ALERT_TOPIC, "alertChanged", event_data(updated))
    return updated


async def forecast(ctx: ResolverCtx, product_id: str | None, horizon: int) -> OrchestrationRun:
    return await runs.launch(ctx, await admit_forecast(ctx, product_id, horizon))


async def admit_forecast(
    ctx: ResolverCtx, product_id: str | None, horizon: int = 12
) -> runs.Admitted:
    parameters = {"horizon": horizon}
    return await runs.admit(ctx, FORECAST_RUN, product_id, parameters)


async def forecast_after_change(ctx: ResolverCtx, product_id: str) -> None:
    """A run changed the data: forecast again (a follow-up the run's charge covered)."""
    await refresh_forecast(ctx, await admit_forecast(ctx, product_id))


async def refresh_forecast(ctx: ResolverCtx, forecast: runs.Admitted) -> None:
    """Launch the admitted forecast, unless one of the product is already waiting (it will
    read the new data when it runs)."""
    assert forecast.product is not None
    waiting = await ctx.scope.find(
        OrchestrationRun,
        {
            "workflow": FORECAST_RUN.name,
            "product_id": forecast.product.id,
            "status": RunStatus.QUEUED,
        },
    ).count()
    if not waiting:
        await runs.launch(ctx, forecast)
