"""Revenue forecasts (runs) and anomaly alerts in the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from app.bus import Event
from app.models.alert import Alert as AlertModel
from app.models.alert import AlertKind, AlertSeverity, AlertStatus
from app.models.identity import Role
from app.resolvers import alert as use_case
from app.resolvers.alert import ALERT_TOPIC
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, RateLimitedError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.pagination import Connection, paginate
from app.schema.run import Run
from app.schema.streams import stream


@strawberry.type
class Alert:
    id: strawberry.ID
    kind: AlertKind
    severity: AlertSeverity
    status: AlertStatus
    product_id: strawberry.ID
    plan_id: strawberry.ID
    segment_id: strawberry.ID
    series_id: strawberry.ID
    period: dt.date
    actual: float = strawberry.field(
        description="Revenue drop: minor units; churn spike: share of the subscriptions lost "
        "net of new ones; price anomaly: minor units per subscription."
    )
    expected: float = strawberry.field(description="In the unit of `actual`.")
    deviation_percent: float | None = strawberry.field(
        description="100 (actual / expected - 1); null for churn spikes, whose expected rate "
        "may be zero or negative."
    )
    z_score: float
    message: str
    acknowledged_by: str | None
    resolved_by: str | None
    created_at: dt.datetime

    @classmethod
    def from_model(cls, doc: AlertModel) -> Alert:
        return cls(
            id=strawberry.ID(str(doc.id)),
            kind=doc.kind,
            severity=doc.severity,
            status=doc.status,
            product_id=strawberry.ID(str(doc.product_id)),
            plan_id=strawberry.ID(str(doc.plan_id)),
            segment_id=strawberry.ID(str(doc.segment_id)),
            series_id=strawberry.ID(str(doc.series_id)),
            period=doc.period,
            actual=doc.actual,
            expected=doc.expected,
            deviation_percent=doc.deviation_percent,
            z_score=doc.z_score,
            message=doc.message,
            acknowledged_by=doc.acknowledged_by,
            resolved_by=doc.resolved_by,
            created_at=doc.created_at,
        )


@strawberry.type
class AlertEvent:
    type: str
    alert_id: strawberry.ID
    kind: AlertKind | None = strawberry.field(description="Null on events older than the field.")
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> AlertEvent:
        kind = event.data.get("kind")
        return cls(
            type=event.type,
            alert_id=strawberry.ID(event.data["alertId"]),
            kind=AlertKind(kind) if kind else None,
            cursor=event.id,
        )


AlertResult = Annotated[Alert | NotFoundError | ConflictError, strawberry.union("AlertResult")]
ForecastResult = Annotated[
    Run | ValidationError | NotFoundError | RateLimitedError,
    strawberry.union("ForecastRevenueResult"),
]


@strawberry.type
class AlertQuery:
    @query()
    async def alerts(
        self,
        info: Info,
        status: AlertStatus | None = None,
        severity: AlertSeverity | None = None,
        product_id: strawberry.ID | None = None,
        kind: AlertKind | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Alert]:
        conditions = use_case.alert_filter(status, severity, product_id, kind)
        scope = info.context.scope
        return await paginate(scope, AlertModel, conditions, (first, after), Alert.from_model)


@strawberry.type
class AlertMutation:
    @mutation(description="Forecast revenue and subscriptions (a run); raises alerts too.")
    async def forecast_revenue(
        self, info: Info, product_id: strawberry.ID | None = None, horizon: int = 12
    ) -> ForecastResult:
        return Run.from_model(await use_case.forecast(info.context.ctx, product_id, horizon))

    @mutation(Role.ANALYST)
    async def acknowledge_alert(self, info: Info, id: strawberry.ID) -> AlertResult:
        return Alert.from_model(await use_case.act(info.context.ctx, id, "acknowledge"))

    @mutation(Role.ANALYST)
    async def resolve_alert(self, info: Info, id: strawberry.ID) -> AlertResult:
        return Alert.from_model(await use_case.act(info.context.ctx, id, "resolve"))


@strawberry.type
class AlertSubscription:
    @subscription(description="Alerts raised and changed; with `since`, those missed first.")
    def alert_events(
        self, info: Info, since: str | None = None
    ) -> AsyncGenerator[AlertEvent, None]:
        return stream(info.context.ctx.follow(ALERT_TOPIC, since), AlertEvent.from_event)
