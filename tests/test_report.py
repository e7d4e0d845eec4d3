"""Reports through the API with a worker of their own (its SMTP server a local aiosmtpd
sink): definitions and schedules (DST included), generation as a run whose PDF quotes the
demo data, delivery per recipient, signed links, and one generation per scheduled slot."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from urllib.parse import urlsplit

import httpx
import pypdf
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from beanie import init_beanie

from app.models import ALL_MODELS, TenantScope
from app.models.identity import Tenant
from app.models.report import Report, Schedule
from app.resolvers.report import latest_slot, next_slot, schedule_due, sign_link
from app.runtime import Services, start_services
from app.seed import month, seed
from tests.conftest import make_settings
from tests.support.app import running_api, running_worker
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished
from tests.support.servers import free_port
from tests.support.tenants import SignedUp, sign_up

FLAKY = "flaky@example.com"


class Sink:
    """Takes every message; refuses FLAKY once with a temporary error."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refused: list[str] = []
        self.arrived = asyncio.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == FLAKY and FLAKY not in self.refused:
            self.refused.append(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture(scope="module")
def sink() -> AsyncIterator[tuple[Sink, int]]:
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest_asyncio.fixture(scope="module")
async def stack(services: Services, sink) -> AsyncIterator[tuple[Services, str, SignedUp]]:
    """An API and a worker of their own, mailing to the sink."""
    settings = make_settings(
        services.settings.mongodb_url or "",
        services.settings.redis_url,
        smtp_host="127.0.0.1",
        smtp_port=sink[1],
        smtp_retry_seconds=0.05,
    )
    own = await start_services(settings)
    try:
        async with running_api(settings, own) as url, running_worker(settings):
            admin = await sign_up(url, "Reports")
            await Tenant.find_one({"_id": admin.tenant_id}).update({"$set": {"tier": "enterprise"}})
            await seed(TenantScope(admin.tenant_id), customers_per_product=150)
            yield own, url, admin
            await admin.client.close()
    finally:
        await own.database.client.drop_database(settings.mongodb_db)
        await own.close()
        await init_beanie(database=services.database.db, document_models=list(ALL_MODELS))


CREATE = """mutation($input: CreateReportInput!) { createReport(input: $input) {
  __typename ... on Report { id name nextScheduled frequency schedule { cron timezone }
    sections { name order blocks } timeRange { relative start end } recipients }
  ... on ValidationError { message fields { path message } } ... on Error { code message } } }"""
GENERATE = """mutation($id: ID) { generateReport(reportId: $id) {
  __typename ... on Run { id } ... on Error { code message } } }"""
REPORT = """query($id: ID!) { report(id: $id) { lastGenerated generations {
  id status startedAt completedAt downloadUrl error
  deliveries { recipient status attempts error } } } }"""
ATTRIBUTION = """query($p: ID!, $s: Date!, $e: Date!) {
  revenueAttribution(productId: $p, start: $s, end: $e) { totalRevenueCents } }"""
PRODUCTS = "{ products(first: 1) { nodes { id name } } }"


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


async def product_of(client: GraphQLClient) -> dict:
    return (await client.data(PRODUCTS))["products"]["nodes"][0]


async def create(client: GraphQLClient, **fields) -> dict:
    return (await client.data(CREATE, {"input": fields}))["createReport"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_a_generated_report_quotes_the_attribution_and_is_mailed_to_each_recipient(
    stack, sink
):
    _, url, admin = stack
    client = admin.client
    product = await product_of(client)
    start, end = month(0), month(12) - timedelta(days=1)
    sections = [
        {
            "name": "Revenue Summary",
            "prompt": "Summarise revenue.",
            "blocks": ["REVENUE_ATTRIBUTION"],
        },
        {"name": "Plan Economics", "prompt": "Compare the plans.", "blocks": ["PLAN_ECONOMICS"]},
    ]
    report = await create(
        client,
        name="Annual Revenue",
        productId=product["id"],
        sections=sections,
        timeRange={"start": start.isoformat(), "end": end.isoformat()},
        recipients=["cfo@example.com", FLAKY, "ceo@example.com"],
    )
    assert report["__typename"] == "Report", report

    started = (await client.data(GENERATE, {"id": report["id"]}))["generateReport"]
    assert started["__typename"] == "Run", started
    run = await finished(client, started["id"])

    assert run["status"] == "COMPLETED", await client.data(
        "query($id: ID!) { run(id: $id) { error steps { error } } }", {"id": started["id"]}
    )
    assert [s["name"] for s in run["steps"]] == [
        "gather figures",
        "write Revenue Summary",
        "write Plan Economics",
        "assemble",
        "deliver",
    ]
    found = (await client.data(REPORT, {"id": report["id"]}))["report"]
    [generation] = found["generations"]
    assert generation["status"] == "COMPLETED" and found["lastGenerated"]
    total = (
        await client.data(
            ATTRIBUTION, {"p": product["id"], "s": start.isoformat(), "e": month(12).isoformat()}
        )
    )["revenueAttribution"]["totalRevenueCents"]
    async with httpx.AsyncClient(base_url=url) as http:
        pdf = await http.get(path_of(generation["downloadUrl"]))
        csv = await http.get(path_of(generation["downloadUrl"]), params={"format": "csv"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 1
    assert "Revenue Summary" in text and "Plan Economics" in text
    assert money(total) in text
    assert "Plan,Segment,Revenue,Share,Users" in csv.text

    by_recipient = {d["recipient"]: d for d in generation["deliveries"]}
    assert {r: d["status"] for r, d in by_recipient.items()} == dict.fromkeys(by_recipient, "SENT")
    assert by_recipient[FLAKY]["attempts"] == 2
    assert by_recipient["cfo@example.com"]["attempts"] == 1
    handler, _ = sink
    received = [to for to, _ in handler.messages]
    assert sorted(received) == [["ceo@example.com"], ["cfo@example.com"], [FLAKY]]
    attached = [
        part.get_filename()
        for part in message_from_bytes(handler.messages[0][1]).walk()
        if part.get_content_disposition() == "attachment"
    ]
    assert attached == ["Annual Revenue.pdf"]


async def test_an_expired_or_another_tenants_link_is_refused(stack):
    own, url, admin = stack
    client = admin.client
    product = await product_of(client)
    report = await create(
        client,
        name="Small",
        productId=product["id"],
        sections=[{"name": "Alerts", "prompt": "Any alerts?", "blocks": ["ALERTS"]}],
    )
    run = await finished(
        client, (await client.data(GENERATE, {"id": report["id"]}))["generateReport"]["id"]
    )
    assert run["status"] == "COMPLETED", run
    [generation] = (await client.data(REPORT, {"id": report["id"]}))["report"]["generations"]
    settings = own.settings
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = sign_link(settings, admin.tenant_id, generation["id"], past)
    other = await sign_up(url, "Other")
    foreign = sign_link(settings, other.tenant_id, generation["id"], past + timedelta(days=1))
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get(path_of(generation["downloadUrl"]))).status_code == 200
        assert (await http.get(f"/reports/{expired}")).status_code == 410
        assert (await http.get(f"/reports/{foreign}")).status_code == 404
        assert (await http.get(f"/reports/{expired[:-2]}xx")).status_code == 404
    await other.client.close()


async def test_two_schedulers_and_one_due_slot_give_one_generation(stack):
    own, _, admin = stack
    client = admin.client
    report = await create(
        client,
        name="Daily",
        sections=[{"name": "Alerts", "prompt": "Any alerts?", "blocks": ["ALERTS"]}],
        schedule={"type": "DAILY", "time": "06:00", "timezone": "Europe/Berlin"},
    )
    scope = TenantScope(admin.tenant_id)
    stored = await scope.require(Report, report["id"])
    # Down for three days: the scheduler catches up the newest missed slot, once.
    await scope.update(stored, {"next_scheduled": datetime.now(UTC) - timedelta(days=3)})

    first, second = await asyncio.gather(
        schedule_due(own, datetime.now(UTC)), schedule_due(own, datetime.now(UTC))
    )
    mine = [c for c in first + second if c[1] == report["id"]]

    assert len(mine) == 1
    stored = await scope.require(Report, report["id"])
    assert stored.next_scheduled > datetime.now(UTC)
    assert mine[0][2] == latest_slot(stored.schedule, datetime.now(UTC)).isoformat()


def test_a_monthly_0900_berlin_report_moves_to_the_right_utc_instant_across_march():
    monthly = Schedule(cron="0 9 1 * *", timezone="Europe/Berlin")
    before = next_slot(monthly, datetime(2025, 2, 15, tzinfo=UTC))
    after = next_slot(monthly, datetime(2025, 3, 15, tzinfo=UTC))
    assert before == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)  # CET, UTC+1
    assert after == datetime(2025, 4, 1, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    daily = Schedule(cron="0 9 * * *", timezone="Europe/Berlin")
    assert next_slot(daily, datetime(2025, 3, 29, 12, tzinfo=UTC)) == datetime(
        2025, 3, 30, 7, 0, tzinfo=UTC
    )


async def test_a_seed_schedule_is_normalised_and_bad_input_is_typed(stack):
    client = stack[2].client
    sections = [{"name": "Revenue Summary", "prompt": "Generate revenue summary"}]
    made = await create(
        client,
        name="Monthly Revenue Report",
        sections=sections,
        schedule={"type": "MONTHLY", "dayOfMonth": 1, "time": "09:00", "timezone": "Europe/Berlin"},
        recipients=["admin@company.com"],
    )
    assert made["frequency"] == "0 9 1 * *"
    assert made["schedule"]["timezone"] == "Europe/Berlin"
    assert made["timeRange"]["relative"] == "LAST_FULL_MONTH"
    due = datetime.fromisoformat(made["nextScheduled"])
    assert due.astimezone().tzinfo is not None and due.minute == 0
    for fields, path in (
        ({"schedule": {"cron": "61 * * * *"}}, ["schedule", "cron"]),
        ({"schedule": {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}}, ["schedule", "timezone"]),
        ({"sections": []}, ["sections"]),
    ):
        result = await create(client, name="Bad", **{"sections": sections, **fields})
        assert result["__typename"] == "ValidationError", result
        assert result["fields"][0]["path"] == path
    reports = await TenantScope(stack[2].tenant_id).find(Report, {"name": "Bad"}).count()
    assert reports == 0
