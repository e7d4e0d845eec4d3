"""Alerts raised by anomaly detection on revenue series; users acknowledge and resolve them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from beanie import PydanticObjectId
from pymongo import IndexModel

from app.models.base import TenantDocument


class AlertKind(StrEnum):
    REVENUE_DROP = "revenue_drop"
    CHURN_SPIKE = "churn_spike"
    PRICE_ANOMALY = "price_anomaly"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertSeverity(StrEnum):
    """From the robust z-score of the anomaly (app/analytics/anomaly.py)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Alert(TenantDocument):
    kind: AlertKind
    severity: AlertSeverity
    status: AlertStatus = AlertStatus.OPEN
    product_id: PydanticObjectId
    series_id: PydanticObjectId
    plan_id: PydanticObjectId
    segment_id: PydanticObjectId
    period: date
    # Revenue drop: minor units; churn spike: net churn rate (share of the subscriptions);
    # price anomaly: minor units per subscription.
    actual: float
    expected: float
    deviation_percent: float | None  # None for churn: a rate near zero has no useful ratio
    z_score: float
    message: str
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None

    class Settings:
        name = "alerts"
        # One alert per series, kind and month, even when two runs look at once.
        indexes = [
            IndexModel(
                [("tenant_id", 1), ("series_id", 1), ("kind", 1), ("period", 1)], unique=True
            )
        ]
