"""The report scheduler: an arq cron job on every worker; each due slot is claimed once
(a key per report and slot), and the generations it claims are started staggered."""

from __future__ import annotations

from typing import Any

from app.models.base import utcnow
from app.resolvers import report
from app.runtime import Services

START = "start_scheduled_report"


async def schedule_reports(ctx: dict[str, Any]) -> int:
    """Start what is due; returns how many slots this worker claimed."""
    services: Services = ctx["services"]
    claimed = await report.schedule_due(services, utcnow())
    stagger = services.settings.report_stagger_seconds
    for n, (tenant_id, report_id, slot) in enumerate(claimed):
        await services.queue.enqueue(
            START,
            job_id=f"report:{report_id}:{slot}",
            defer_seconds=n * stagger,
            tenant_id=tenant_id,
            report_id=report_id,
            slot=slot,
        )
    return len(claimed)


async def start_scheduled_report(
    ctx: dict[str, Any], tenant_id: str, report_id: str, slot: str
) -> None:
    await report.start_scheduled(ctx["services"], tenant_id, report_id, slot)
