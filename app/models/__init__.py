"""Beanie documents: the storage shape, one module per domain."""

from beanie import Document

from app.models.audit import AuditEntry
from app.models.base import TenantDocument, TenantScope
from app.models.customer import Customer
from app.models.experiment import Experiment, ExperimentArm, ExperimentEvent
from app.models.identity import ApiKey, Invite, Project, RefreshToken, Tenant, User
from app.models.outbox import PendingEvent
from app.models.plan import PricingPlan
from app.models.product import Product
from app.models.revenue import RevenuePoint, RevenueSeries
from app.models.run import OrchestrationRun, RunLog
from app.models.secret import TenantSecret
from app.models.seed import SeedManifest
from app.models.segment import CustomerSegment, SegmentMetrics

ALL_MODELS: list[type[Document]] = [
    Tenant,
    User,
    RefreshToken,
    ApiKey,
    Invite,
    Project,
    AuditEntry,
    TenantSecret,
    Product,
    PricingPlan,
    CustomerSegment,
    Customer,
    RevenueSeries,
    Experiment,
    ExperimentEvent,
    SeedManifest,
    PendingEvent,
    OrchestrationRun,
    RunLog,
]

__all__ = [
    "ALL_MODELS",
    "Customer",
    "CustomerSegment",
    "Experiment",
    "ExperimentArm",
    "ExperimentEvent",
    "OrchestrationRun",
    "PendingEvent",
    "PricingPlan",
    "Product",
    "RevenuePoint",
    "RevenueSeries",
    "RunLog",
    "SeedManifest",
    "SegmentMetrics",
    "TenantDocument",
    "TenantScope",
]
