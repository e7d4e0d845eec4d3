"""Reports in the API (the seeds' /api/reports, /scheduled-reporting/create, /generate and
/status), their templates, notification preferences and the `reportGenerated` events."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import date, datetime
from typing import Annotated

import strawberry

from app.bus import Event
from app.errors import ValidationFailed
from app.models import report as models
from app.models.identity import Role
from app.models.report import (
    DataBlock,
    DeliveryStatus,
    GenerationStatus,
    NotificationChannel,
    NotificationFrequency,
    RelativeRange,
    ReportFormat,
    ScheduleType,
)
from app.resolvers import report as use_case
from app.resolvers import report_template as templates
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.pagination import Connection, paginate
from app.schema.run import Run, StartRunResult
from app.schema.streams import stream


@strawberry.type
class ReportSection:
    name: str
    prompt: str
    order: int
    blocks: list[DataBlock]

    @classmethod
    def from_model(cls, s: models.ReportSection) -> ReportSection:
        return cls(name=s.name, prompt=s.prompt, order=s.order, blocks=list(s.blocks))


@strawberry.type(description="Fixed days (both included), or relative to the generation.")
class TimeRange:
    start: date | None
    end: date | None
    relative: RelativeRange | None


@strawberry.type
class ReportSchedule:
    cron: str
    timezone: str = strawberry.field(description="IANA zone the cron expression is read in.")


@strawberry.type
class ReportDelivery:
    recipient: str
    status: DeliveryStatus
    attempts: int
    error: str | None
    sent_at: datetime | None


@strawberry.type(description="One generation of a report (the seed's report status).")
class ReportGeneration:
    id: strawberry.ID
    report_id: strawberry.ID | None
    run_id: strawberry.ID | None
    name: str
    status: GenerationStatus
    slot: datetime | None
    period_start: date
    period_end: date
    started_at: datetime
    completed_at: datetime | None
    error: str | None
    formats: list[ReportFormat]
    deliveries: list[ReportDelivery]
    download_url: str | None = strawberry.field(
        description="A signed link that expires: add ?format=pdf, html or csv."
    )

    @classmethod
    def from_model(cls, g: models.ReportGeneration, info: Info) -> ReportGeneration:
        return cls(
            id=strawberry.ID(str(g.id)),
            report_id=strawberry.ID(str(g.report_id)) if g.report_id else None,
            run_id=strawberry.ID(str(g.run_id)) if g.run_id else None,
            name=g.name,
            status=g.status,
            slot=g.slot,
            period_start=g.period_start,
            period_end=g.period_end,
            started_at=g.started_at,
            completed_at=g.completed_at,
            error=g.error,
            formats=list(g.formats),
            deliveries=[ReportDelivery(**d.model_dump()) for d in g.deliveries],
            download_url=use_case.download_url(info.context.ctx.services.settings, g),
        )


@strawberry.type(description="A report definition (the seeds' Report and ScheduledReport).")
class Report:
    id: strawberry.ID
    name: str
    product_id: strawberry.ID | None
    sections: list[ReportSection]
    time_range: TimeRange
    recipients: list[str]
    formats: list[ReportFormat]
    schedule: ReportSchedule | None
    frequency: str | None = strawberry.field(description="The seed's cron `frequency`.")
    active: bool
    skip_when_empty: bool
    template: str | None
    last_generated: datetime | None
    next_scheduled: datetime | None
    created_at: datetime
    updated_at: datetime
    revision: int

    @strawberry.field(description="Its generations, newest first.")
    async def generations(self, info: Info, first: int = 10) -> list[ReportGeneration]:
        found = await use_case.generations_of(info.context.ctx, self.id, min(max(first, 0), 100))
        return [ReportGeneration.from_model(g, info) for g in found]

    @classmethod
    def from_model(cls, r: models.Report) -> Report:
        schedule = r.schedule
        return cls(
            id=strawberry.ID(str(r.id)),
            name=r.name,
            product_id=strawberry.ID(str(r.product_id)) if r.product_id else None,
            sections=[ReportSection.from_model(s) for s in r.sections],
            time_range=TimeRange(**r.time_range.model_dump()),
            recipients=r.recipients,
            formats=list(r.formats),
            schedule=ReportSchedule(cron=schedule.cron, timezone=schedule.timezone)
            if schedule
            else None,
            frequency=schedule.cron if schedule else None,
            active=r.active,
            skip_when_empty=r.skip_when_empty,
            template=r.template,
            last_generated=r.last_generated,
            next_scheduled=r.next_scheduled,
            created_at=r.created_at,
            updated_at=r.updated_at,
            revision=r.revision,
        )


@strawberry.type(description="A report template: built in, or the tenant's own.")
class ReportTemplate:
    id: strawberry.ID
    name: str
    description: str
    template_type: str
    sections: list[ReportSection]
    built_in: bool
    usage_count: int
    shared: bool


@strawberry.type(description="Who receives which notices how (the seed's NotificationPreference).")
class NotificationPreference:
    channels: list[NotificationChannel]
    alert_types: list[str]
    frequency: NotificationFrequency
    product_id: strawberry.ID | None
    active: bool


@strawberry.input
class ReportSectionInput:
    name: str
    prompt: str
    order: int = 0
    blocks: list[DataBlock] = strawberry.field(default_factory=list)


@strawberry.input
class TimeRangeInput:
    start: date | None = None
    end: date | None = None
    relative: RelativeRange | None = None


@strawberry.input(description="A cron expression, or the seed's type with a time and day.")
class ScheduleInput:
    timezone: str = "UTC"
    cron: str | None = None
    type: ScheduleType | None = None
    time: str = "09:00"
    day_of_month: int = 1
    day_of_week: int = strawberry.field(default=1, description="0 Sunday to 6 Saturday.")


@strawberry.input
class CreateReportInput:
    name: str | None = None
    from_template: str | None = strawberry.field(
        default=None, description="A reportTemplates id: its name, sections and time range."
    )
    product_id: strawberry.ID | None = None
    sections: list[ReportSectionInput] | None = None
    time_range: TimeRangeInput | None = None
    recipients: list[str] | None = None
    formats: list[ReportFormat] | None = None
    schedule: ScheduleInput | None = None
    active: bool | None = None
    skip_when_empty: bool | None = None


@strawberry.input
class UpdateReportInput(CreateReportInput):
    id: strawberry.ID = strawberry.field(default=strawberry.ID(""))
    revision: int = 0
    clear_schedule: bool = False


@strawberry.input(description="An ad hoc report (the seed's POST /api/reports/generate).")
class GenerateReportInput:
    name: str | None = None
    product_id: strawberry.ID | None = None
    sections: list[ReportSectionInput] = strawberry.field(default_factory=list)
    time_range: TimeRangeInput | None = None
    recipients: list[str] | None = None
    formats: list[ReportFormat] | None = None


@strawberry.input
class NotificationPreferenceInput:
    channels: list[NotificationChannel]
    alert_types: list[str] = strawberry.field(
        default_factory=list, description="Empty: all; `report` for report notices."
    )
    frequency: NotificationFrequency = NotificationFrequency.IMMEDIATE
    product_id: strawberry.ID | None = None
    active: bool = True


def sections_of(given: list[ReportSectionInput] | None) -> list[models.ReportSection] | None:
    if given is None:
        return None
    return [
        models.ReportSection(name=s.name, prompt=s.prompt, order=s.order, blocks=s.blocks)
        for s in given
    ]


def definition(input: CreateReportInput | GenerateReportInput) -> use_case.Definition:
    schedule = getattr(input, "schedule", None)
    time_range = input.time_range
    return use_case.Definition(
        name=input.name,
        product_id=input.product_id,
        sections=sections_of(input.sections),
        time_range=models.TimeRange(**vars(time_range)) if time_range else None,
        recipients=input.recipients,
        formats=input.formats,
        schedule=use_case.ScheduleSpec(
            timezone=schedule.timezone,
            cron=schedule.cron,
            type=schedule.type.value if schedule.type else None,
            time=schedule.time,
            day_of_month=schedule.day_of_month,
            day_of_week=schedule.day_of_week,
        )
        if schedule
        else None,
        clear_schedule=getattr(input, "clear_schedule", False),
        active=getattr(input, "active", None),
        skip_when_empty=getattr(input, "skip_when_empty", None),
    )


def template_type(t: templates.BuiltIn | models.ReportTemplate) -> ReportTemplate:
    own = t if isinstance(t, models.ReportTemplate) else None
    return ReportTemplate(
        id=strawberry.ID(str(t.id)),
        name=t.name,
        description=t.description,
        template_type=t.template_type,
        sections=[ReportSection.from_model(s) for s in t.sections],
        built_in=own is None,
        usage_count=own.usage_count if own else 0,
        shared=own.shared if own else True,
    )


def preference_type(p: models.NotificationPreference | None) -> NotificationPreference | None:
    if p is None:
        return None
    return NotificationPreference(
        channels=list(p.channels),
        alert_types=p.alert_types,
        frequency=p.frequency,
        product_id=strawberry.ID(str(p.product_id)) if p.product_id else None,
        active=p.active,
    )


@strawberry.type
class ReportGenerated:
    generation_id: strawberry.ID
    report_id: strawberry.ID | None
    name: str
    status: GenerationStatus
    error: str | None
    download_url: str | None
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> ReportGenerated:
        d = event.data
        return cls(
            generation_id=strawberry.ID(d["generationId"]),
            report_id=strawberry.ID(d["reportId"]) if d["reportId"] else None,
            name=d["name"],
            status=GenerationStatus(d["status"]),
            error=d["error"],
            download_url=d["downloadUrl"],
            cursor=event.id,
        )


ReportResult = Annotated[
    Report | ValidationError | NotFoundError | ConflictError, strawberry.union("ReportResult")
]
ReportTemplateResult = Annotated[
    ReportTemplate | ValidationError, strawberry.union("ReportTemplateResult")
]
PreferenceResult = Annotated[
    NotificationPreference | ValidationError, strawberry.union("NotificationPreferenceResult")
]


@strawberry.type
class ReportQuery:
    @query(description="Report definitions, oldest first.")
    async def reports(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Report]:
        return await paginate(
            info.context.scope, models.Report, {}, (first, after), Report.from_model
        )

    @query()
    async def report(self, info: Info, id: strawberry.ID) -> Report | None:
        doc = await info.context.scope.get(models.Report, id)
        return Report.from_model(doc) if doc else None

    @query(description="A generation's status and download link (the seed's /status).")
    async def report_generation(self, info: Info, id: strawberry.ID) -> ReportGeneration | None:
        found = await use_case.generation(info.context.ctx, id)
        return ReportGeneration.from_model(found, info) if found else None

    @query(description="Built-in templates, then the tenant's shared ones and the caller's own.")
    async def report_templates(self, info: Info) -> list[ReportTemplate]:
        built_in, own = await templates.templates(info.context.ctx)
        return [template_type(t) for t in built_in] + [template_type(t) for t in own]

    @query(description="The caller's notification preference; none: every notice, every channel.")
    async def notification_preference(self, info: Info) -> NotificationPreference | None:
        return preference_type(await templates.preference_of(info.context.ctx))


@strawberry.type
class ReportMutation:
    @mutation(Role.ANALYST, description="Define a report, from a template or from scratch.")
    async def create_report(self, info: Info, input: CreateReportInput) -> ReportResult:
        doc = await use_case.create_report(info.context.ctx, definition(input), input.from_template)
        return Report.from_model(doc)

    @mutation(Role.ANALYST, description="Change a report; fields left out stay as they are.")
    async def update_report(self, info: Info, input: UpdateReportInput) -> ReportResult:
        doc = await use_case.update_report(
            info.context.ctx, input.id, input.revision, definition(input)
        )
        return Report.from_model(doc)

    @mutation(Role.ANALYST, description="Delete a report; its generations stay.")
    async def delete_report(self, info: Info, id: strawberry.ID) -> ReportResult:
        return Report.from_model(await use_case.delete_report(info.context.ctx, id))

    @mutation(Role.ANALYST, description="Generate a report now, or an ad hoc one (a run).")
    async def generate_report(
        self,
        info: Info,
        report_id: strawberry.ID | None = None,
        input: GenerateReportInput | None = None,
    ) -> StartRunResult:
        ctx = info.context.ctx
        if (report_id is None) == (input is None):
            raise ValidationFailed.single("reportId", "give reportId or input")
        if report_id is not None:
            return Run.from_model(await use_case.generate(ctx, report_id))
        assert input is not None
        return Run.from_model(await use_case.generate_ad_hoc(ctx, definition(input)))

    @mutation(Role.ANALYST, description="Save sections as a template of the tenant's.")
    async def create_report_template(
        self,
        info: Info,
        name: str,
        sections: list[ReportSectionInput],
        description: str = "",
        shared: bool = False,
    ) -> ReportTemplateResult:
        doc = await templates.create_template(
            info.context.ctx, name, description, sections_of(sections) or [], shared
        )
        return template_type(doc)

    @mutation(Role.VIEWER, description="The caller's channels and notices.")
    async def set_notification_preference(
        self, info: Info, input: NotificationPreferenceInput
    ) -> PreferenceResult:
        given = templates.PreferenceInput(
            input.channels, input.alert_types, input.frequency, input.product_id, input.active
        )
        return preference_type(await templates.set_preference(info.context.ctx, given))  # type: ignore[return-value]


@strawberry.type
class ReportSubscription:
    @subscription(description="A report generation ended (the in-app notification).")
    def report_generated(
        self, info: Info, report_id: strawberry.ID | None = None, since: str | None = None
    ) -> AsyncGenerator[ReportGenerated, None]:
        return stream(
            use_case.follow(info.context.ctx, report_id, since), ReportGenerated.from_event
        )
