"""A report's generation: gather the figures -> write each section (one step each) ->
assemble HTML, PDF and CSV and store them -> deliver by e-mail, each a checkpointed step.

The figures are gathered once and kept as the first step's output, so a resumed run writes
its remaining sections over the same numbers. A section the AI layer cannot write fails the
run (and the generation) with its reason. Delivery sends one message per recipient and
retries only those whose server asked to try again, so nobody receives the report twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app import mail, rendering
from app.models import Product
from app.models.base import utcnow
from app.models.report import (
    Delivery,
    DeliveryStatus,
    GenerationStatus,
    ReportFormat,
    ReportGeneration,
)
from app.models.run import LogLevel, OrchestrationRun, RunStep
from app.resolvers.ctx import ResolverCtx
from app.resolvers.report import REPORT_RUN, finish, write_section
from app.resolvers.report_data import Figures, gather
from app.resolvers.report_template import declines_email
from app.storage import GridFSStore
from app.workflows.base import StepContext, StepRefused, Workflow
from app.workflows.pricing_analysis import provider_outcomes

GATHER = "gather figures"


async def generation_of(step: StepContext) -> ReportGeneration:
    return await step.ctx.scope.require(ReportGeneration, step.run.parameters["generationId"])


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    generation = await ctx.scope.require(ReportGeneration, run.parameters["generationId"])
    steps = [RunStep(name=GATHER, kind="gather", order=0)]
    for section in generation.sections:
        name = f"write {section.name}"
        steps.append(
            RunStep(name=name, kind="section", order=len(steps), input={"order": section.order})
        )
    steps.append(RunStep(name="assemble", kind="assemble", order=len(steps)))
    steps.append(RunStep(name="deliver", kind="deliver", order=len(steps)))
    return steps


async def gather_step(step: StepContext) -> dict[str, Any]:
    generation = await generation_of(step)
    scope = step.ctx.scope
    if generation.product_id is not None:
        products = [await scope.require(Product, generation.product_id)]
    else:
        products = await scope.find(Product, {}).sort("name").to_list()
    blocks = list({b for s in generation.sections for b in s.blocks})
    figures = await gather(
        step.ctx, products, blocks, generation.period_start, generation.period_end
    )
    period = f"{generation.period_start} to {generation.period_end}"
    await step.log(LogLevel.INFO, f"{len(figures.facts)} figures, {len(figures.tables)} tables")
    if generation.skip_when_empty and figures.empty():
        await finish(step.ctx, generation, {"status": GenerationStatus.SKIPPED})
        await step.log(LogLevel.WARN, f"no data for {period}: skipped, as the report asks")
        return {"skipped": True}
    return figures.dump()


def figures_of(step: StepContext) -> Figures | None:
    gathered = step.outputs.get(GATHER, {})
    return None if gathered.get("skipped") else Figures.load(gathered)


async def section_step(step: StepContext) -> dict[str, Any]:
    figures = figures_of(step)
    if figures is None:
        return {"skipped": True}
    generation = await generation_of(step)
    section = generation.sections[step.step.input["order"]]
    facts, _ = figures.of(section.blocks)
    try:
        with provider_outcomes():
            written = await write_section(step.ctx, generation, section, facts, step.run.id)
    except StepRefused as refused:
        error = f"section {section.name!r}: {refused}"
        await finish(step.ctx, generation, {"status": GenerationStatus.FAILED, "error": error})
        raise StepRefused(error, refused.output) from None
    await step.log(
        LogLevel.INFO,
        f"{section.name}: {written.verified} of {written.claims} claims verified "
        f"({written.source})",
    )
    return {"text": written.text, "findings": written.findings, "claims": written.claims}


def document(step: StepContext, generation: ReportGeneration, figures: Figures) -> Any:
    sections = []
    for section in generation.sections:
        written = step.outputs[f"write {section.name}"]
        _, tables = figures.of(section.blocks)
        sections.append(
            rendering.Section(
                name=section.name,
                text=written["text"],
                findings=written["findings"],
                tables=[t.model_dump() for t in tables],
                chart=any(t.block == "revenue_attribution" for t in tables),
            )
        )
    period = f"{generation.period_start:%d %B %Y} to {generation.period_end:%d %B %Y}"
    return rendering.Document(generation.name, period, sections, figures.monthly)


def render_all(doc: rendering.Document, tables: list[dict[str, Any]]) -> dict[str, bytes]:
    markup = rendering.html(doc)
    return {
        ReportFormat.HTML: markup.encode(),
        ReportFormat.PDF: rendering.pdf(markup),
        ReportFormat.CSV: rendering.tables_csv(tables),
    }


async def assemble_step(step: StepContext) -> dict[str, Any]:
    figures = figures_of(step)
    if figures is None:
        return {"skipped": True}
    generation = await generation_of(step)
    tables = [t.model_dump() for t in figures.tables]
    outputs = await step.compute(render_all, document(step, generation, figures), tables)
    store = GridFSStore(step.ctx.services.database.db)
    files = {}
    # Every format: the link serves each, the mail needs the PDF and the HTML.
    for fmt in ReportFormat:
        meta = {"tenant_id": generation.tenant_id, "generation_id": str(generation.id)}
        files[fmt.value] = await store.put(f"{generation.name}.{fmt.value}", outputs[fmt], meta)
    changes = {"status": GenerationStatus.COMPLETED, "files": files, "tables": figures.tables}
    await finish(step.ctx, generation, changes)
    sizes = ", ".join(f"{k} {len(outputs[k]):,} bytes" for k in sorted(files))
    await step.log(LogLevel.SUCCESS, f"stored {sizes}")
    return {"files": files}


async def deliver_step(step: StepContext) -> dict[str, Any]:
    generation = await generation_of(step)
    if generation.status != GenerationStatus.COMPLETED or not generation.deliveries:
        return {"sent": 0}
    store = GridFSStore(step.ctx.services.database.db)
    pdf = await store.get(generation.files[ReportFormat.PDF.value]) or b""
    page = (await store.get(generation.files[ReportFormat.HTML.value]) or b"").decode()
    attachment = mail.Attachment(f"{generation.name}.pdf", pdf, "application", "pdf")
    declined = await declines_email(step.ctx, [d.recipient for d in generation.deliveries])
    settings = step.ctx.services.settings
    deliveries = generation.deliveries
    for attempt in range(settings.smtp_attempts):
        if attempt:
            await asyncio.sleep(settings.smtp_retry_seconds * 2 ** (attempt - 1))
        pending = [d for d in deliveries if d.status == DeliveryStatus.PENDING]
        for delivery in pending:
            await deliver_one(step, delivery, declined, page, attachment, attempt)
        generation = await step.ctx.scope.update(generation, {"deliveries": deliveries})
        if not any(d.status == DeliveryStatus.PENDING for d in deliveries):
            break
    for d in deliveries:
        if d.status == DeliveryStatus.PENDING:
            d.status = DeliveryStatus.FAILED
    await step.ctx.scope.update(generation, {"deliveries": deliveries})
    sent = sum(d.status == DeliveryStatus.SENT for d in deliveries)
    failed = [d.recipient for d in deliveries if d.status == DeliveryStatus.FAILED]
    level = LogLevel.WARN if failed else LogLevel.INFO
    await step.log(level, f"e-mailed {sent} of {len(deliveries)}; failed: {failed or 'none'}")
    return {"sent": sent, "failed": failed}


async def deliver_one(
    step: StepContext,
    delivery: Delivery,
    declined: set[str],
    page: str,
    attachment: mail.Attachment,
    attempt: int,
) -> None:
    if delivery.recipient in declined:
        delivery.status = DeliveryStatus.SKIPPED
        return
    delivery.attempts += 1
    try:
        subject = f"Report: {attachment.filename.removesuffix('.pdf')}"
        await mail.send(step.ctx.services.settings, delivery.recipient, subject, page, [attachment])
    except mail.SendFailed as failure:
        delivery.error = str(failure)
        if not failure.temporary:
            delivery.status = DeliveryStatus.FAILED
        await step.log(LogLevel.WARN, f"{delivery.recipient}: {failure} (attempt {attempt + 1})")
        return
    delivery.status, delivery.sent_at, delivery.error = DeliveryStatus.SENT, utcnow(), None


WORKFLOW = Workflow(
    spec=REPORT_RUN,
    plan=plan,
    steps={
        "gather": gather_step,
        "section": section_step,
        "assemble": assemble_step,
        "deliver": deliver_step,
    },
)
