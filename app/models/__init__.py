"""Beanie documents: the storage shape, one module per domain."""

from beanie import Document

from app.models.ai import AiCall, PromptOverride
from app.models.alert import Alert
from app.models.audit import AuditEntry
from app.models.base import TenantDocument, TenantScope
from app.models.competitor import CompetitorAnalysis, MarketIntelligence, PositioningSummary
from app.models.customer import Customer
from app.models.customer_value import CustomerValueModel, Order
from app.models.diagnosis import GapDiagnosis
from app.models.documentation import DocChunk, DocumentSource
from app.models.experiment import Experiment, ExperimentArm, ExperimentEvent, ExperimentUnit
from app.models.identity import ApiKey, Invite, Project, RefreshToken, Tenant, User
from app.models.link import CanvasPosition, SegmentPlanLink
from app.models.outbox import PendingEvent
from app.models.plan import PricingPlan
from app.models.product import Product
from app.models.recommendation import PricingRecommendation
from app.models.report import REPORT_MODELS
from app.models.revenue import RevenuePoint, RevenueSeries
from app.models.run import OrchestrationRun, RunLog
from app.models.scoring import AccountScore, ScoringCriterion, ScoringScenario
from app.models.secret import TenantSecret
from app.models.seed import SeedManifest
from app.models.segment import CustomerSegment, SegmentGrowth, SegmentMetrics
from app.models.upload import UploadChunk
from app.models.version import DataVersion
from app.models.wtp import WtpSurvey

ALL_MODELS: list[type[Document]] = [
    Alert,
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
    ExperimentUnit,
    SeedManifest,
    PendingEvent,
    OrchestrationRun,
    RunLog,
    SegmentPlanLink,
    CanvasPosition,
    DataVersion,
    AiCall,
    PromptOverride,
    DocumentSource,
    DocChunk,
    GapDiagnosis,
    PricingRecommendation,
    UploadChunk,
    WtpSurvey,
    *REPORT_MODELS,
    ScoringScenario,
    ScoringCriterion,
    AccountScore,
    CompetitorAnalysis,
    MarketIntelligence,
    PositioningSummary,
    Order,
    CustomerValueModel,
]

__all__ = [
    "ALL_MODELS",
    "CanvasPosition",
    "Customer",
    "CustomerSegment",
    "DataVersion",
    "Experiment",
    "ExperimentArm",
    "ExperimentEvent",
    "ExperimentUnit",
    "OrchestrationRun",
    "PendingEvent",
    "PricingPlan",
    "Product",
    "RevenuePoint",
    "RevenueSeries",
    "RunLog",
    "SeedManifest",
    "SegmentGrowth",
    "SegmentMetrics",
    "SegmentPlanLink",
    "TenantDocument",
    "TenantScope",
    "UploadChunk",
    "WtpSurvey",
]
