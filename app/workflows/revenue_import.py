"""Import revenue contributions from an uploaded CSV (the steps of
app/workflows/csv_import.py): valid rows are summed by contribution and month and stored,
then the product's forecasts are refreshed as after `upsertRevenueContribution`.

`write` replaces the months it stores, so it can run again after a crash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from app.models import CustomerSegment, PricingPlan, RevenueSeries
from app.models.base import TenantScope
from app.models.run import LogLevel
from app.resolvers.alert import forecast_after_change
from app.resolvers.revenue import MonthTotals, save_months
from app.resolvers.revenue_import import IMPORT_RUN, RevenueRow, RowParser, header
from app.workflows.base import StepContext
from app.workflows.csv_import import CsvImport, Rows, parsed_rows, progress

SERIES_PER_PROGRESS = 200


async def stored_currencies(scope: TenantScope, product_id: Any) -> dict[tuple[Any, Any], str]:
    cursor = RevenueSeries.get_pymongo_collection().find(
        scope.filter({"product_id": product_id}),
        {"plan_id": 1, "segment_id": 1, "currency": 1, "_id": 0},
    )
    return {(doc["plan_id"], doc["segment_id"]): doc["currency"] async for doc in cursor}


async def rows(step: StepContext) -> Rows[RevenueRow]:
    scope, product = step.ctx.scope, {"product_id": step.run.product_id}
    plans = await scope.find(PricingPlan, product).to_list()
    segments = await scope.find(CustomerSegment, product).to_list()
    stored = await stored_currencies(scope, step.run.product_id)
    stream = parsed_rows(step, lambda names: RowParser(header(names), plans, segments, stored))
    async for item in stream:
        yield item


async def write(step: StepContext, valid: AsyncIterator[RevenueRow]) -> dict[str, Any]:
    totals: dict[tuple[Any, Any], MonthTotals] = defaultdict(MonthTotals)
    currencies: dict[tuple[Any, Any], str] = {}
    written = 0
    async for row in valid:
        totals[row.key].add(row.point)
        currencies[row.key] = row.currency
        written += 1
    months = 0
    for done, ((plan_id, segment_id), series) in enumerate(totals.items(), 1):
        key = {"product_id": step.run.product_id, "segment_id": segment_id, "plan_id": plan_id}
        existing = await step.ctx.scope.find(RevenueSeries, key).first_or_none()
        points = series.points()
        await save_months(step.ctx, key, currencies[(plan_id, segment_id)], existing, points)
        months += len(points)
        if done % SERIES_PER_PROGRESS == 0:
            await progress(step, f"stored {done} of {len(totals)} contributions")
    await step.log(
        LogLevel.INFO, f"{written} rows stored as {months} months of {len(totals)} contributions"
    )
    return {"written": written, "months": months, "contributions": len(totals)}


async def forecast_step(step: StepContext) -> dict[str, Any]:
    if not step.outputs["write"]["written"]:
        return {"refreshed": False}
    await forecast_after_change(step.ctx, str(step.run.product_id))
    return {"refreshed": True}


WORKFLOW = CsvImport(
    spec=IMPORT_RUN,
    rows=rows,
    write=write,
    then={"forecast": forecast_step},
).workflow()
