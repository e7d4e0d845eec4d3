"""Import customer records from an uploaded CSV (the steps of app/workflows/csv_import.py):
valid rows become customers, then the product's segment metrics are recomputed.

`write` first removes what this run wrote before, so it can run again after a crash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from app.models import Customer, CustomerSegment, PricingPlan
from app.models.base import ENCODER, utcnow
from app.models.run import LogLevel
from app.resolvers.customer_import import IMPORT_RUN, RowParser, header
from app.resolvers.segment import refresh_metrics
from app.resolvers.upload import RowError
from app.workflows.base import StepContext
from app.workflows.csv_import import CsvImport, Rows, parsed_rows, progress

BATCH = 5000


async def _existing_ids(step: StepContext) -> set[str]:
    query = {"product_id": step.run.product_id, "import_id": {"$ne": step.run.id}}
    cursor = Customer.get_pymongo_collection().find(
        step.ctx.scope.filter(query), {"external_id": 1, "_id": 0}
    )
    return {doc["external_id"] async for doc in cursor}


async def rows(step: StepContext) -> Rows[dict[str, Any]]:
    """Customer fields of every row, with the duplicate checks (within the file and
    against stored customers) added to the parser's."""
    plans = await step.ctx.scope.find(PricingPlan, {"product_id": step.run.product_id}).to_list()
    seen = await _existing_ids(step)
    stream = parsed_rows(step, lambda names: RowParser(header(names), plans))
    async for row, fields, errors in stream:
        if fields is not None:
            if fields["external_id"] in seen:
                errors = [RowError(row, "external_id", "already exists for this product")]
                fields = None
            else:
                seen.add(fields["external_id"])
        yield row, fields, errors


async def write(step: StepContext, valid: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    collection = Customer.get_pymongo_collection()
    await collection.delete_many(step.ctx.scope.filter({"import_id": step.run.id}))  # a retry
    batch: list[dict[str, Any]] = []
    written = 0
    async for fields in valid:
        batch.append(_document(step, fields))
        if len(batch) == BATCH:
            written += await _flush(collection, batch)
            await progress(step, f"wrote {written} customers")
    written += await _flush(collection, batch)
    return {"written": written}


def _document(step: StepContext, fields: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    customer = Customer(
        tenant_id=step.ctx.tenant_id,
        product_id=step.run.product_id,
        import_id=step.run.id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    return dict(ENCODER.encode(customer.model_dump(exclude={"id"})))


async def _flush(collection: Any, batch: list[dict[str, Any]]) -> int:
    if batch:
        await collection.insert_many(batch, ordered=False)
    count = len(batch)
    batch.clear()
    return count


async def metrics_step(step: StepContext) -> dict[str, Any]:
    if not step.outputs["write"]["written"]:
        return {"segments": 0}
    scope = step.ctx.scope
    segments = await scope.find(CustomerSegment, {"product_id": step.run.product_id}).to_list()
    for segment in segments:
        updated = await refresh_metrics(scope, segment)
        data = {"segmentId": str(updated.id), "productId": str(updated.product_id)}
        await step.ctx.publish("segments", "segmentMetricsUpdated", data)
    await step.log(LogLevel.INFO, f"metrics of {len(segments)} segments recomputed")
    return {"segments": len(segments)}


WORKFLOW = CsvImport(
    spec=IMPORT_RUN,
    rows=rows,
    write=write,
    then={"metrics": metrics_step},
).workflow()
