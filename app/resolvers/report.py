"""Reports: definitions with a schedule (cron in an IANA zone), generations as runs, the
scheduler that starts each due slot once, and signed, expiring download links.

A schedule is stored as cron + zone; the seed's `schedule_type`/`schedule_config` (daily,
weekly, monthly at a time) are normalised to cron. `nextScheduled` is the next slot read in
the report's zone and stored in UTC, so daylight-saving changes move it to the right instant.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from beanie import PydanticObjectId
from bson import ObjectId
from cronsim import CronSim, CronSimError
from itsdangerous import BadSignature, URLSafeSerializer

from app.ai import offline
from app.ai.citations import Fact
from app.ai.outputs import SectionDraft
from app.ai.prompts import render
from app.ai.provider import AiRequest
from app.bus import Event
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Product
from app.models.base import TenantScope, parse_id, utcnow
from app.models.report import (
    Delivery,
    GenerationStatus,
    RelativeRange,
    Report,
    ReportFormat,
    ReportGeneration,
    ReportSection,
    Schedule,
    TimeRange,
)
from app.models.run import FINAL_STATUSES, OrchestrationRun, WorkflowType
from app.resolvers import ai
from app.resolvers import run as runs
from app.resolvers.ctx import ResolverCtx, system_ctx
from app.resolvers.report_template import check_sections, take, wants
from app.runtime import Services
from app.settings import Settings
from app.storage import GridFSStore

log = logging.getLogger(__name__)

TOPIC = "reports"
GENERATED = "reportGenerated"
MAX_RECIPIENTS = 50
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLOT_CLAIM_SECONDS = 40 * 86_400  # longer than any gap between two slots worth catching up
SCHEDULE_TYPES = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule as a client gives it: a cron expression, or the seed's type and config."""

    timezone: str = "UTC"
    cron: str | None = None
    type: str | None = None
    time: str = "09:00"
    day_of_month: int = 1
    day_of_week: int = 1  # 0 Sunday ... 6 Saturday, as cron counts


@dataclass(frozen=True)
class Definition:
    """What createReport, updateReport and an ad hoc generation give."""

    name: str | None = None
    product_id: str | None = None
    sections: list[ReportSection] | None = None
    time_range: TimeRange | None = None
    recipients: list[str] | None = None
    formats: list[ReportFormat] | None = None
    schedule: ScheduleSpec | None = None
    clear_schedule: bool = False
    active: bool | None = None
    skip_when_empty: bool | None = None


# --- schedules ------------------------------------------------------------------------------


def normalise(spec: ScheduleSpec) -> Schedule:
    """The schedule as cron + zone, checked; ValidationFailed names the wrong field."""
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.single("schedule.timezone", "not an IANA time zone") from None
    cron = spec.cron.strip() if spec.cron else from_type(spec)
    try:
        CronSim(cron, datetime.now(UTC))
    except CronSimError as error:
        raise ValidationFailed.single("schedule.cron", f"not a cron expression: {error}") from None
    schedule = Schedule(cron=cron, timezone=spec.timezone)
    if next_slot(schedule, datetime.now(UTC)) is None:
        raise ValidationFailed.single("schedule.cron", "never matches a date")
    return schedule


def from_type(spec: ScheduleSpec) -> str:
    if spec.type not in SCHEDULE_TYPES:
        raise ValidationFailed.single("schedule", "give a cron expression or a type")
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", spec.time)
    if match is None:
        raise ValidationFailed.single("schedule.time", "HH:MM, 00:00 to 23:59")
    hour, minute = int(match[1]), int(match[2])
    if spec.type == "daily":
        return f"{minute} {hour} * * *"
    if spec.type == "weekly":
        if not 0 <= spec.day_of_week <= 6:
            raise ValidationFailed.single("schedule.dayOfWeek", "0 (Sunday) to 6 (Saturday)")
        return f"{minute} {hour} * * {spec.day_of_week}"
    if not 1 <= spec.day_of_month <= 28:
        raise ValidationFailed.single("schedule.dayOfMonth", "1 to 28 (every month has it)")
    return f"{minute} {hour} {spec.day_of_month} * *"


def next_slot(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot after `after`, read in the schedule's zone, in UTC."""
    zone = ZoneInfo(schedule.timezone)
    try:
        return next(CronSim(schedule.cron, after.astimezone(zone))).astimezone(UTC)
    except (StopIteration, CronSimError):
        return None


def latest_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The newest slot at or before `now`: the one a late scheduler catches up."""
    zone = ZoneInfo(schedule.timezone)
    probe = (now + timedelta(seconds=1)).astimezone(zone)
    try:
        return next(CronSim(schedule.cron, probe, reverse=True)).astimezone(UTC)
    except (StopIteration, CronSimError):
        return None


# --- time ranges ----------------------------------------------------------------------------


def check_range(time_range: TimeRange) -> TimeRange:
    if time_range.relative is not None:
        if time_range.start or time_range.end:
            raise ValidationFailed.single("timeRange", "either relative or start and end")
        return time_range
    if time_range.start is None or time_range.end is None:
        raise ValidationFailed.single("timeRange", "give start and end, or relative")
    if time_range.end < time_range.start:
        raise ValidationFailed.single("timeRange.end", "must not be before start")
    return time_range


def month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def resolve_range(time_range: TimeRange, today: date) -> tuple[date, date]:
    """The days covered (both included), relative ones counted back from `today`."""
    if time_range.relative is None:
        assert time_range.start is not None and time_range.end is not None
        return time_range.start, time_range.end
    this_month = month_start(today)
    match time_range.relative:
        case RelativeRange.LAST_FULL_MONTH:
            return month_start(today, 1), this_month - timedelta(days=1)
        case RelativeRange.LAST_FULL_QUARTER:
            quarter = month_start(today, (today.month - 1) % 3)
            return month_start(quarter, 3), quarter - timedelta(days=1)
        case RelativeRange.LAST_12_FULL_MONTHS:
            return month_start(today, 12), this_month - timedelta(days=1)
        case RelativeRange.LAST_7_DAYS:
            return today - timedelta(days=7), today - timedelta(days=1)
        case RelativeRange.LAST_30_DAYS:
            return today - timedelta(days=30), today - timedelta(days=1)
    return date(today.year, 1, 1), today  # year to date


# --- definitions ----------------------------------------------------------------------------


def check_recipients(recipients: list[str]) -> list[str]:
    if len(recipients) > MAX_RECIPIENTS:
        raise ValidationFailed.single("recipients", f"at most {MAX_RECIPIENTS}")
    for i, address in enumerate(recipients):
        if not EMAIL.match(address):
            raise ValidationFailed.single(f"recipients.{i}", "not an e-mail address")
    return list(dict.fromkeys(a.strip().lower() for a in recipients))


async def checked_changes(ctx: ResolverCtx, d: Definition) -> dict[str, Any]:
    """The stored fields a definition sets, every one checked before anything is written."""
    changes: dict[str, Any] = {}
    if d.name is not None:
        if not d.name.strip() or len(d.name) > 200:
            raise ValidationFailed.single("name", "1 to 200 characters")
        changes["name"] = d.name.strip()
    if d.product_id is not None:
        changes["product_id"] = (await ctx.scope.require(Product, d.product_id)).id
    if d.sections is not None:
        changes["sections"] = check_sections(d.sections)
    if d.time_range is not None:
        changes["time_range"] = check_range(d.time_range)
    if d.recipients is not None:
        changes["recipients"] = check_recipients(d.recipients)
    if d.formats is not None:
        if not d.formats:
            raise ValidationFailed.single("formats", "at least one format")
        changes["formats"] = list(dict.fromkeys(d.formats))
    if d.schedule is not None:
        changes["schedule"] = normalise(d.schedule)
    elif d.clear_schedule:
        changes["schedule"] = None
    for key in ("active", "skip_when_empty"):
        if getattr(d, key) is not None:
            changes[key] = getattr(d, key)
    return changes


def scheduled(report: Report, now: datetime) -> datetime | None:
    """When the report is due next: never while inactive or without a schedule."""
    if not report.active or report.schedule is None:
        return None
    return next_slot(report.schedule, now)


async def create_report(ctx: ResolverCtx, d: Definition, template: str | None) -> Report:
    from_template = await take(ctx, template) if template else {}
    if d.sections is None and "sections" not in from_template:
        raise ValidationFailed.single("sections", "a report needs at least one section")
    changes = {**from_template, **await checked_changes(ctx, d)}
    if "name" not in changes:
        raise ValidationFailed.single("name", "1 to 200 characters")
    changes.setdefault("time_range", TimeRange(relative=RelativeRange.LAST_FULL_MONTH))
    report = Report(tenant_id=ctx.tenant_id, template=template, **changes)
    report.next_scheduled = scheduled(report, utcnow())
    stored = await ctx.scope.insert(report)
    ctx.audit.record("Report", stored.id, after=stored)
    return stored


async def update_report(ctx: ResolverCtx, report_id: str, revision: int, d: Definition) -> Report:
    report = await ctx.scope.require(Report, report_id)
    if report.revision != revision:
        raise Conflict(f"Report {report_id} was changed by someone else; reload and retry")
    changes = await checked_changes(ctx, d)
    changes["next_scheduled"] = scheduled(report.model_copy(update=changes), utcnow())
    updated = await ctx.scope.update(report, changes)
    ctx.audit.record("Report", report.id, report, updated)
    return updated


async def delete_report(ctx: ResolverCtx, report_id: str) -> Report:
    report = await ctx.scope.require(Report, report_id)
    await ctx.scope.delete(Report, report_id)
    ctx.audit.record("Report", report.id, before=report)
    return report


async def generations_of(ctx: ResolverCtx, report_id: Any, first: int) -> list[ReportGeneration]:
    query = ctx.scope.find(ReportGeneration, {"report_id": parse_id(report_id)})
    return await with_run_outcome(ctx, await query.sort("-started_at").limit(first).to_list())


async def generation(ctx: ResolverCtx, generation_id: str) -> ReportGeneration | None:
    found = await ctx.scope.get(ReportGeneration, generation_id)
    return (await with_run_outcome(ctx, [found]))[0] if found else None


async def with_run_outcome(
    ctx: ResolverCtx, found: list[ReportGeneration]
) -> list[ReportGeneration]:
    """A generation whose run ended without finishing it (a crash past its retries, a stop)
    shows the run's outcome."""
    ids: list[ObjectId] = [
        g.run_id for g in found if g.status == GenerationStatus.GENERATING and g.run_id
    ]
    ended = {
        run_id: run
        for run_id, run in (await ctx.scope.get_many(OrchestrationRun, ids)).items()
        if run.status in FINAL_STATUSES
    }
    return [
        g.model_copy(
            update={"status": GenerationStatus.FAILED, "error": ended[g.run_id].error or "stopped"}
        )
        if g.run_id in ended
        else g
        for g in found
    ]


# --- generations ----------------------------------------------------------------------------


def validate_parameters(parameters: dict[str, Any]) -> None:
    if not parse_id(str(parameters.get("generationId", ""))):
        raise ValidationFailed.single("input.parameters.generationId", "use generateReport")


REPORT_RUN = runs.WorkflowSpec(
    "report_generation",
    WorkflowType.REPORT_GENERATION,
    "Report generation: gather figures, write each section, assemble HTML and PDF, deliver",
    validate_parameters,
)


async def start_generation(
    ctx: ResolverCtx, report: Report, slot: datetime | None = None
) -> OrchestrationRun:
    """Charge and queue a generation of `report` (stored or ad hoc, then unsaved)."""
    generation_id = PydanticObjectId()
    product_id = str(report.product_id) if report.product_id else None
    admitted = await runs.admit(ctx, REPORT_RUN, product_id, {"generationId": str(generation_id)})
    zone = ZoneInfo(report.schedule.timezone if report.schedule else "UTC")
    start, end = resolve_range(report.time_range, (slot or utcnow()).astimezone(zone).date())
    generation = ReportGeneration(
        id=generation_id,
        tenant_id=ctx.tenant_id,
        report_id=report.id,
        name=report.name,
        product_id=report.product_id,
        sections=report.sections,
        formats=report.formats,
        slot=slot,
        skip_when_empty=report.skip_when_empty and slot is not None,
        period_start=start,
        period_end=end,
        started_at=utcnow(),
        deliveries=[Delivery(recipient=r) for r in report.recipients],
    )
    await ctx.scope.insert(generation)
    run = await runs.launch(ctx, admitted)
    await ctx.scope.update(generation, {"run_id": run.id})
    return run


async def generate(ctx: ResolverCtx, report_id: str) -> OrchestrationRun:
    return await start_generation(ctx, await ctx.scope.require(Report, report_id))


async def generate_ad_hoc(ctx: ResolverCtx, d: Definition) -> OrchestrationRun:
    changes = await checked_changes(ctx, replace(d, schedule=None))
    if "sections" not in changes:
        raise ValidationFailed.single("sections", "a report needs at least one section")
    changes.setdefault("name", "Custom report")
    changes.setdefault("time_range", TimeRange(relative=RelativeRange.LAST_FULL_MONTH))
    return await start_generation(ctx, Report(tenant_id=ctx.tenant_id, **changes))


async def finish(
    ctx: ResolverCtx, generation: ReportGeneration, changes: dict[str, Any]
) -> ReportGeneration:
    """Record a generation's end on it and its report, and publish `reportGenerated`."""
    done = await ctx.scope.update(generation, {**changes, "completed_at": utcnow()})
    report = await ctx.scope.get(Report, generation.report_id) if generation.report_id else None
    if report is not None and done.status == GenerationStatus.COMPLETED:
        await ctx.scope.update(report, {"last_generated": done.completed_at})
    await ctx.publish(TOPIC, GENERATED, event_of(ctx, done))
    return done


def event_of(ctx: ResolverCtx, g: ReportGeneration) -> dict[str, Any]:
    return {
        "generationId": str(g.id),
        "reportId": str(g.report_id) if g.report_id else None,
        "name": g.name,
        "status": g.status.value,
        "error": g.error,
        "downloadUrl": download_url(ctx.services.settings, g),
    }


async def follow(
    ctx: ResolverCtx, report_id: str | None, since: str | None
) -> AsyncGenerator[Event, None]:
    """`reportGenerated` events (of one report when given), unless the caller's notification
    preference declines in-app notices."""
    if not await wants(ctx, "in_app"):
        return
    async for event in ctx.follow(TOPIC, since):
        if report_id is None or event.data.get("reportId") == report_id:
            yield event


@dataclass(frozen=True)
class Written:
    text: str
    findings: list[str]  # the verified findings' statements
    claims: int
    verified: int
    source: str


async def write_section(
    ctx: ResolverCtx,
    generation: ReportGeneration,
    section: ReportSection,
    facts: dict[str, Fact],
    run_id: PydanticObjectId | None,
) -> Written:
    """The section's text from the AI layer, over the report's figures, claims verified."""
    extra: dict[str, object] = {"SECTION": {"name": section.name, "prompt": section.prompt}}
    product = await ctx.scope.get(Product, generation.product_id) if generation.product_id else None
    if product is not None:
        rendered = await ai.prompt(ctx, "report_section", product, facts, {}, section.prompt, extra)
    else:  # a whole-tenant report: no project's standing instructions apply
        override = await ai.override_of(ctx, "report_section")
        template = ai.template("report_section")
        instructions = override.instructions if override else None
        rendered = render(template, instructions, [], facts, {}, section.prompt, extra)
    request = AiRequest(rendered, SectionDraft, lambda: offline.report_section(facts))
    answer, _ = await ai.ask(ctx, request, run_id)
    checked = ai.verify(answer.output.findings, facts, {})
    return Written(
        text=answer.output.text,
        findings=[f.statement for f in checked.findings],
        claims=checked.claims,
        verified=checked.verified,
        source=answer.source.value,
    )


# --- the scheduler --------------------------------------------------------------------------


async def schedule_due(services: Services, now: datetime) -> list[tuple[str, str, str]]:
    """Claim each report's newest due slot (once, whichever scheduler gets there first) and
    move its `nextScheduled` on; returns the claimed (tenant, report, slot) to start."""
    due = Report.find({"active": True, "next_scheduled": {"$lte": now}}).sort("next_scheduled")
    claimed = []
    for report in await due.to_list():
        if report.schedule is None:
            continue
        slot = latest_slot(report.schedule, now)
        if slot is None:
            continue
        key = f"report-slot:{report.id}:{slot.isoformat()}"
        if await services.kv.claim(key, SLOT_CLAIM_SECONDS):
            claimed.append((report.tenant_id, str(report.id), slot.isoformat()))
        ctx = system_ctx(services, report.tenant_id)
        # Every scheduler moves it on; one that loses that race leaves it to the winner.
        with contextlib.suppress(Conflict):
            await ctx.scope.update(
                report, {"next_scheduled": next_slot(report.schedule, now), "last_slot": slot}
            )
    return claimed


async def start_scheduled(services: Services, tenant_id: str, report_id: str, slot: str) -> None:
    ctx = system_ctx(services, tenant_id)
    report = await ctx.scope.get(Report, report_id)
    if report is None or not report.active:
        return
    try:
        await start_generation(ctx, report, datetime.fromisoformat(slot))
    except (ValidationFailed, NotFound) as error:
        log.warning("scheduled report %s not started: %s", report_id, error.message)


# --- download links -------------------------------------------------------------------------


def _signer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.jwt_secret.get_secret_value(), salt="report-download")


def sign_link(settings: Settings, tenant_id: str, generation_id: str, expires: datetime) -> str:
    return str(_signer(settings).dumps([tenant_id, generation_id, int(expires.timestamp())]))


def download_url(settings: Settings, g: ReportGeneration) -> str | None:
    if g.status != GenerationStatus.COMPLETED:
        return None
    expires = utcnow() + timedelta(seconds=settings.report_link_seconds)
    token = sign_link(settings, g.tenant_id, str(g.id), expires)
    return f"{settings.public_url.rstrip('/')}/reports/{token}"


class LinkRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_link(settings: Settings, token: str, now: datetime) -> tuple[str, str]:
    """The tenant and generation a link names; LinkRefused when forged or expired."""
    try:
        tenant_id, generation_id, expires = _signer(settings).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise LinkRefused(404, "no such report link") from None
    if now.timestamp() > expires:
        raise LinkRefused(410, "this report link has expired; generate a new one")
    return str(tenant_id), str(generation_id)


CONTENT_TYPES = {
    ReportFormat.PDF: "application/pdf",
    ReportFormat.HTML: "text/html; charset=utf-8",
    ReportFormat.CSV: "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class Download:
    data: bytes
    content_type: str
    filename: str


async def open_download(services: Services, token: str, fmt: str) -> Download:
    """The file a link names, looked up in the tenant the link was signed for."""
    tenant_id, generation_id = read_link(services.settings, token, utcnow())
    if fmt not in {f.value for f in ReportFormat}:
        raise LinkRefused(400, "format: one of pdf, html, csv")
    found = await TenantScope(tenant_id).get(ReportGeneration, generation_id)
    file_id = found.files.get(fmt) if found else None
    data = await GridFSStore(services.database.db).get(file_id) if file_id else None
    if found is None or data is None:
        raise LinkRefused(404, f"no {fmt} of this report")
    filename = re.sub(r"[^\w .-]", "_", found.name)  # a header value: nothing that breaks it
    return Download(data, CONTENT_TYPES[ReportFormat(fmt)], f"{filename}.{fmt}")
