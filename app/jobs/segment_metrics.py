"""Recompute every segment's metrics from the customer records, reporting progress."""

from __future__ import annotations

from typing import Any

from app.models import CustomerSegment, TenantScope
from app.resolvers.segment import refresh_metrics
from app.runtime import Services


def progress_topic(job_id: str) -> str:
    return f"job:{job_id}"


async def recompute_segment_metrics(ctx: dict[str, Any], tenant_id: str) -> dict[str, int]:
    services: Services = ctx["services"]
    job_id: str = ctx["job_id"]
    scope = TenantScope(tenant_id)
    topic = progress_topic(job_id)

    async def report(status: str, done: int, total: int, message: str) -> None:
        data = {"status": status, "done": done, "total": total, "message": message}
        await services.bus.publish(tenant_id, topic, "progress", data)

    segments = await scope.find(CustomerSegment).sort("name").to_list()
    await report("running", 0, len(segments), "computing segment metrics")
    try:
        for done, segment in enumerate(segments, start=1):
            updated = await refresh_metrics(scope, segment)
            await services.bus.publish(
                tenant_id, "segments", "segmentMetricsUpdated", {"segmentId": str(updated.id)}
            )
            await report("running", done, len(segments), f"segment {segment.name}")
    except Exception as error:
        await report("failed", 0, len(segments), f"failed: {type(error).__name__}")
        raise
    await report("completed", len(segments), len(segments), "done")
    return {"segments": len(segments)}
