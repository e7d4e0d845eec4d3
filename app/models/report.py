"""Reports (the seeds' Report / ScheduledReport): a definition with ordered sections written
from prompts, a time range and a schedule; each generation a run whose outputs (HTML, PDF,
CSV of the tables) are stored as files, delivered per recipient. Also the seed's
AnalysisTemplate (a tenant's report templates) and NotificationPreference."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument


class DataBlock(StrEnum):
    """The platform's figures a section may show."""

    REVENUE_ATTRIBUTION = "revenue_attribution"
    FORECASTS = "forecasts"
    EXPERIMENT_RESULTS = "experiment_results"
    SEGMENT_METRICS = "segment_metrics"
    ALERTS = "alerts"
    PLAN_ECONOMICS = "plan_economics"


class RelativeRange(StrEnum):
    LAST_FULL_MONTH = "last_full_month"
    LAST_FULL_QUARTER = "last_full_quarter"
    LAST_12_FULL_MONTHS = "last_12_full_months"
    LAST_7_DAYS = "last_7_days"
    LAST_30_DAYS = "last_30_days"
    YEAR_TO_DATE = "year_to_date"


class ReportFormat(StrEnum):
    PDF = "pdf"
    HTML = "html"
    CSV = "csv"


class ReportSection(BaseModel):
    name: str
    prompt: str
    order: int
    blocks: list[DataBlock] = Field(default_factory=list)


class TimeRange(BaseModel):
    """Fixed (`start` to `end`, both days included) or relative to the generation's time."""

    start: date | None = None
    end: date | None = None
    relative: RelativeRange | None = None


class ScheduleType(StrEnum):
    """The seed's schedule_type, normalised to cron."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class Schedule(BaseModel):
    cron: str  # five fields, read in `timezone`
    timezone: str  # IANA name


class Report(TenantDocument):
    name: str
    product_id: PydanticObjectId | None = None  # None: the whole tenant
    sections: list[ReportSection]
    time_range: TimeRange
    recipients: list[str] = Field(default_factory=list)
    formats: list[ReportFormat] = Field(default_factory=lambda: [ReportFormat.PDF])
    schedule: Schedule | None = None
    active: bool = True
    skip_when_empty: bool = False  # a scheduled slot without data generates nothing
    template: str | None = None
    last_generated: datetime | None = None
    next_scheduled: datetime | None = None
    last_slot: datetime | None = None  # the newest slot the scheduler started

    class Settings:
        name = "reports"
        indexes = [[("active", 1), ("next_scheduled", 1)], [("tenant_id", 1), ("name", 1)]]


class GenerationStatus(StrEnum):
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # the recipient's notification preference declines e-mail


class Delivery(BaseModel):
    recipient: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    error: str | None = None
    sent_at: datetime | None = None


class ReportTable(BaseModel):
    title: str
    block: str = ""  # the DataBlock it shows
    columns: list[str]
    rows: list[list[Any]]


class ReportGeneration(TenantDocument):
    report_id: PydanticObjectId | None = None  # None: an ad hoc report
    run_id: PydanticObjectId | None = None
    name: str
    product_id: PydanticObjectId | None = None
    sections: list[ReportSection]  # as they were when it started
    formats: list[ReportFormat]
    slot: datetime | None = None  # the scheduled instant it was started for
    skip_when_empty: bool = False
    status: GenerationStatus = GenerationStatus.GENERATING
    period_start: date
    period_end: date  # included
    started_at: datetime
    completed_at: datetime | None = None
    error: str | None = None
    files: dict[str, str] = Field(default_factory=dict)  # format -> stored file id
    tables: list[ReportTable] = Field(default_factory=list)
    deliveries: list[Delivery] = Field(default_factory=list)

    class Settings:
        name = "report_generations"
        indexes = [[("tenant_id", 1), ("report_id", 1), ("started_at", -1)]]


class ReportTemplate(TenantDocument):
    """A tenant's own template (the seed's AnalysisTemplate)."""

    name: str
    description: str = ""
    template_type: str = "pricing_optimization"
    sections: list[ReportSection]
    parameters: dict[str, Any] = Field(default_factory=dict)
    usage_count: int = 0
    created_by: str | None = None
    shared: bool = False  # visible to the whole tenant, else to its author only

    class Settings:
        name = "report_templates"


class NotificationChannel(StrEnum):
    EMAIL = "email"
    IN_APP = "in_app"
    SLACK = "slack"


class NotificationFrequency(StrEnum):
    IMMEDIATE = "immediate"
    HOURLY = "hourly"
    DAILY = "daily"


class NotificationPreference(TenantDocument):
    """Which notices a user receives and how (the seed's NotificationPreference)."""

    user_id: str
    email: str
    product_id: PydanticObjectId | None = None
    alert_types: list[str] = Field(default_factory=list)  # empty: all; "report" for reports
    channels: list[NotificationChannel] = Field(
        default_factory=lambda: [NotificationChannel.EMAIL, NotificationChannel.IN_APP]
    )
    frequency: NotificationFrequency = NotificationFrequency.IMMEDIATE
    active: bool = True

    class Settings:
        name = "notification_preferences"
        indexes = [[("tenant_id", 1), ("user_id", 1)], [("tenant_id", 1), ("email", 1)]]


REPORT_MODELS = [Report, ReportGeneration, ReportTemplate, NotificationPreference]
