"""Report templates (built in, and a tenant's own: the seed's AnalysisTemplate), the check
of report sections they and reports share, and the users' notification preferences (the
seed's NotificationPreference), which decide who is e-mailed and notified in-app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import FieldIssue, NotFound, ValidationFailed
from app.models.base import parse_id
from app.models.report import (
    DataBlock,
    NotificationChannel,
    NotificationFrequency,
    NotificationPreference,
    RelativeRange,
    ReportSection,
    ReportTemplate,
    TimeRange,
)
from app.resolvers.ctx import ResolverCtx

MAX_SECTIONS = 20
MAX_PROMPT = 4000
REPORT_NOTICE = "report"  # the alert type of report notices in a preference


def check_sections(sections: list[ReportSection]) -> list[ReportSection]:
    """Sections with a name and a prompt each, renumbered 0.. in their stated order."""
    issues = []
    if not sections:
        issues.append(FieldIssue(("sections",), "a report needs at least one section"))
    if len(sections) > MAX_SECTIONS:
        issues.append(FieldIssue(("sections",), f"at most {MAX_SECTIONS}"))
    for i, section in enumerate(sections):
        if not section.name.strip():
            issues.append(FieldIssue(("sections", str(i), "name"), "must not be blank"))
        if not section.prompt.strip() or len(section.prompt) > MAX_PROMPT:
            issues.append(FieldIssue(("sections", str(i), "prompt"), f"1 to {MAX_PROMPT} chars"))
    if issues:
        raise ValidationFailed(issues, issues[0].message)
    ordered = sorted(enumerate(sections), key=lambda pair: (pair[1].order, pair[0]))
    return [s.model_copy(update={"order": n}) for n, (_, s) in enumerate(ordered)]


@dataclass(frozen=True)
class BuiltIn:
    id: str
    name: str
    description: str
    template_type: str
    sections: list[ReportSection]
    relative: RelativeRange


def _section(order: int, name: str, prompt: str, *blocks: DataBlock) -> ReportSection:
    return ReportSection(name=name, prompt=prompt, order=order, blocks=list(blocks))


B = DataBlock
BUILT_IN = [
    BuiltIn(
        "pricing_optimization_report",
        "Pricing Optimization Report",
        "Comprehensive analysis of pricing models and recommendations",
        "pricing_optimization",
        [
            _section(
                0,
                "Executive Summary",
                "Summarise revenue and plan economics.",
                B.REVENUE_ATTRIBUTION,
            ),
            _section(
                1, "Plan Economics", "Compare the plans' margins, ARPU and churn.", B.PLAN_ECONOMICS
            ),
            _section(
                2, "Price Tests", "What did the price experiments measure?", B.EXPERIMENT_RESULTS
            ),
            _section(3, "Outlook", "Where is revenue heading?", B.FORECASTS),
        ],
        RelativeRange.LAST_FULL_QUARTER,
    ),
    BuiltIn(
        "monthly_revenue_report",
        "Monthly Revenue Report",
        "Revenue by plan and segment for the last full month, with segments and alerts",
        "revenue",
        [
            _section(0, "Revenue Summary", "Generate revenue summary.", B.REVENUE_ATTRIBUTION),
            _section(1, "Segments", "Analyse revenue by customer segment.", B.SEGMENT_METRICS),
            _section(2, "Alerts", "Which anomalies were raised?", B.ALERTS),
        ],
        RelativeRange.LAST_FULL_MONTH,
    ),
    BuiltIn(
        "experiment_readout",
        "Experiment Readout",
        "The running and completed price tests and what they measured",
        "experiment",
        [
            _section(0, "Results", "Read out each experiment's result.", B.EXPERIMENT_RESULTS),
            _section(1, "Revenue", "Revenue over the test period.", B.REVENUE_ATTRIBUTION),
        ],
        RelativeRange.LAST_30_DAYS,
    ),
]


def visible(ctx: ResolverCtx) -> dict[str, Any]:
    """A tenant's templates the caller may use: shared ones and their own."""
    return {"$or": [{"shared": True}, {"created_by": ctx.principal.id}]}


async def templates(ctx: ResolverCtx) -> tuple[list[BuiltIn], list[ReportTemplate]]:
    own = await ctx.scope.find(ReportTemplate, visible(ctx)).sort("name").to_list()
    return BUILT_IN, own


async def create_template(
    ctx: ResolverCtx, name: str, description: str, sections: list[ReportSection], shared: bool
) -> ReportTemplate:
    if not name.strip() or len(name) > 200:
        raise ValidationFailed.single("name", "1 to 200 characters")
    stored = await ctx.scope.insert(
        ReportTemplate(
            tenant_id=ctx.tenant_id,
            name=name.strip(),
            description=description,
            sections=check_sections(sections),
            created_by=ctx.principal.id,
            shared=shared,
        )
    )
    ctx.audit.record("ReportTemplate", stored.id, after=stored)
    return stored


async def take(ctx: ResolverCtx, template_id: str) -> dict[str, Any]:
    """A report's fields from a template; a tenant's template counts the use."""
    built_in = next((t for t in BUILT_IN if t.id == template_id), None)
    if built_in is not None:
        return {
            "name": built_in.name,
            "sections": built_in.sections,
            "time_range": TimeRange(relative=built_in.relative),
        }
    oid = parse_id(template_id)
    own = oid and await ctx.scope.find(ReportTemplate, {"_id": oid, **visible(ctx)}).first_or_none()
    if not own:
        raise NotFound("ReportTemplate", template_id)
    await ctx.scope.update(own, {"usage_count": own.usage_count + 1})
    return {"name": own.name, "sections": own.sections}


# --- notification preferences ---------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceInput:
    channels: list[NotificationChannel]
    alert_types: list[str]
    frequency: NotificationFrequency
    product_id: str | None
    active: bool


async def preference_of(ctx: ResolverCtx) -> NotificationPreference | None:
    query = {"user_id": ctx.principal.id}
    return await ctx.scope.find(NotificationPreference, query).first_or_none()


async def set_preference(ctx: ResolverCtx, given: PreferenceInput) -> NotificationPreference:
    if ctx.principal.kind != "user":
        raise ValidationFailed.single("principal", "notification preferences are per user")
    if len(given.alert_types) > 20 or any(len(t) > 60 for t in given.alert_types):
        raise ValidationFailed.single("alertTypes", "at most 20 names of 60 characters")
    fields = {
        "channels": list(dict.fromkeys(given.channels)),
        "alert_types": given.alert_types,
        "frequency": given.frequency,
        "product_id": parse_id(given.product_id) if given.product_id else None,
        "active": given.active,
    }
    existing = await preference_of(ctx)
    if existing is None:
        stored = await ctx.scope.insert(
            NotificationPreference(
                tenant_id=ctx.tenant_id,
                user_id=ctx.principal.id,
                email=ctx.principal.label.lower(),
                **fields,
            )
        )
    else:
        stored = await ctx.scope.update(existing, fields)
    ctx.audit.record("NotificationPreference", stored.id, existing, stored)
    return stored


def accepts(preference: NotificationPreference | None, channel: str) -> bool:
    """No preference: everything; otherwise report notices on the chosen channels."""
    if preference is None:
        return True
    wanted = not preference.alert_types or REPORT_NOTICE in preference.alert_types
    return preference.active and wanted and channel in preference.channels


async def wants(ctx: ResolverCtx, channel: str) -> bool:
    if ctx.principal.kind != "user":
        return True
    return accepts(await preference_of(ctx), channel)


async def declines_email(ctx: ResolverCtx, recipients: list[str]) -> set[str]:
    """The recipients whose own preference declines report e-mails."""
    found = ctx.scope.find(NotificationPreference, {"email": {"$in": recipients}})
    return {p.email for p in await found.to_list() if not accepts(p, NotificationChannel.EMAIL)}
