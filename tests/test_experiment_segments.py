"""Per-segment actions (the seed's pause, resume, stop, retire with a segmentId) and target
segment validation: an experiment can stop for one segment and go on for the others."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from bson import ObjectId

from app.models import Experiment, TenantScope
from tests.support.experiments import (
    ACTION,
    CREATE,
    RECORD,
    RESULTS,
    UPDATE,
    assign_all,
    event,
    experiment_input,
    ingest,
    make_product,
    make_segments,
    recompute,
)
from tests.support.graphql import GraphQLClient
from tests.support.tenants import sign_up

SEGMENT_ACTION = """mutation($id: ID!, $action: ExperimentAction!, $segment: ID, $reason: String) {
  experimentAction(id: $id, action: $action, segmentId: $segment, reason: $reason) {
  __typename ... on Experiment { status stopReason
    segments { segmentId status changedAt changedBy reason } }
  ... on ValidationError { fields { path message } } ... on Error { code message } } }"""
ASSIGN = """mutation($id: ID!, $units: [String!]!, $segment: ID) {
  assignUnits(experimentId: $id, unitIds: $units, segmentId: $segment) {
  __typename ... on AssignmentBatch { assignments { unitId arm reason } }
  ... on Error { code message } } }"""
SEGMENTS = """query($id: ID!) { experiment(id: $id) { status revision
  segments { segmentId status reason } } }"""
UPDATES = """subscription($id: ID!) { experimentUpdated(experimentId: $id, since: "0") {
  type status segmentId segmentStatus } }"""
AUDIT = """query($filter: AuditFilter) { auditLog(filter: $filter, first: 100) { nodes {
  action outcome diff } } }"""
UNITS = [f"shopper-{i}" for i in range(200)]


async def segmented_experiment(
    client: GraphQLClient, tenant: TenantScope, segments: int = 2, start: bool = True
) -> tuple[str, list[str]]:
    product, plan = await make_product(tenant)
    ids = [str(s.id) for s in await make_segments(tenant, product, segments)]
    created = (
        await client.data(CREATE, {"input": experiment_input(product, plan, targetSegmentIds=ids)})
    )["createExperiment"]
    assert created["__typename"] == "Experiment", created
    if start:
        await client.data(ACTION, {"id": created["id"], "action": "START"})
    return created["id"], ids


async def act(
    client: GraphQLClient, experiment_id: str, action: str, segment: str | None, **extra: Any
) -> dict[str, Any]:
    variables = {"id": experiment_id, "action": action, "segment": segment, **extra}
    return (await client.data(SEGMENT_ACTION, variables))["experimentAction"]


async def assign(
    client: GraphQLClient, experiment_id: str, segment: str | None
) -> list[dict[str, Any]]:
    variables = {"id": experiment_id, "units": UNITS, "segment": segment}
    return (await client.data(ASSIGN, variables))["assignUnits"]["assignments"]


def statuses(experiment: dict[str, Any]) -> dict[str, str]:
    return {s["segmentId"]: s["status"] for s in experiment["segments"]}


async def test_a_paused_segment_gets_no_arm_while_the_other_segment_keeps_its_arms(client, tenant):
    experiment_id, (paused, running) = await segmented_experiment(client, tenant)
    before = {a["unitId"]: a["arm"] for a in await assign(client, experiment_id, paused)}
    assert all(before.values())

    result = await act(client, experiment_id, "PAUSE", paused, reason="support backlog in EU")
    assert result["status"] == "RUNNING"
    assert statuses(result) == {paused: "PAUSED", running: "RUNNING"}
    state = next(s for s in result["segments"] if s["segmentId"] == paused)
    assert state["reason"] == "support backlog in EU" and state["changedAt"]

    blocked = await assign(client, experiment_id, paused)
    assert {(a["arm"], a["reason"]) for a in blocked} == {(None, "SEGMENT_PAUSED")}
    others = await assign(client, experiment_id, running)
    assert {a["unitId"]: a["arm"] for a in others} == before

    await act(client, experiment_id, "RESUME", paused)
    resumed = await assign(client, experiment_id, paused)
    assert {a["unitId"]: a["arm"] for a in resumed} == before  # sticky across the pause


async def test_segment_actions_follow_the_lifecycle_and_illegal_ones_change_nothing(client, tenant):
    experiment_id, (segment, _) = await segmented_experiment(client, tenant)
    before = (await client.data(SEGMENTS, {"id": experiment_id}))["experiment"]
    for action in ("RESUME", "RETIRE"):
        refused = await act(client, experiment_id, action, segment)
        assert refused["__typename"] == "ConflictError", (action, refused)
    assert (await client.data(SEGMENTS, {"id": experiment_id}))["experiment"] == before

    stopped = await act(client, experiment_id, "STOP", segment)
    assert statuses(stopped)[segment] == "COMPLETED"
    assert (await act(client, experiment_id, "RESUME", segment))["__typename"] == "ConflictError"
    retired = await act(client, experiment_id, "RETIRE", segment)
    assert statuses(retired)[segment] == "RETIRED"
    blocked = await assign(client, experiment_id, segment)
    assert {a["reason"] for a in blocked} == {"SEGMENT_RETIRED"}
    found = (await client.data(SEGMENTS, {"id": experiment_id}))["experiment"]
    assert found["status"] == "RUNNING"


async def test_segment_actions_outside_the_targets_or_the_seed_actions_are_invalid(client, tenant):
    experiment_id, (segment, _) = await segmented_experiment(client, tenant)
    product, _ = await make_product(tenant)
    [stranger] = await make_segments(tenant, product, 1)
    for other in (str(stranger.id), str(ObjectId()), "not-an-id"):
        result = await act(client, experiment_id, "PAUSE", other)
        assert result["__typename"] == "ValidationError"
        assert result["fields"][0]["path"] == ["segmentId"]
    for action in ("START", "CANCEL"):
        result = await act(client, experiment_id, action, segment)
        assert result["__typename"] == "ValidationError"
        assert result["fields"][0]["path"] == ["action"]
    found = (await client.data(SEGMENTS, {"id": experiment_id}))["experiment"]
    assert found["status"] == "RUNNING" and found["revision"] == 1


async def test_segments_change_only_while_the_experiment_runs_or_is_paused(client, tenant):
    draft_id, (segment, _) = await segmented_experiment(client, tenant, start=False)
    assert (await act(client, draft_id, "PAUSE", segment))["__typename"] == "ConflictError"

    experiment_id, (first, second) = await segmented_experiment(client, tenant)
    await act(client, experiment_id, "PAUSE", first)
    paused = await act(client, experiment_id, "PAUSE", None)
    assert statuses(paused) == {first: "PAUSED", second: "PAUSED"}
    # A segment can be stopped while the experiment is paused; resuming it resumes the rest.
    await act(client, experiment_id, "STOP", first)
    resumed = await act(client, experiment_id, "RESUME", None)
    assert statuses(resumed) == {first: "COMPLETED", second: "RUNNING"}
    await act(client, experiment_id, "STOP", None)
    assert (await act(client, experiment_id, "RESUME", second))["__typename"] == "ConflictError"


async def test_stopping_every_target_segment_completes_the_experiment(client, tenant):
    experiment_id, (first, second) = await segmented_experiment(client, tenant)
    assert (await act(client, experiment_id, "STOP", first))["status"] == "RUNNING"
    done = await act(client, experiment_id, "STOP", second)
    assert done["status"] == "COMPLETED"
    assert done["stopReason"] == "every target segment stopped"
    refused = await client.data(ASSIGN, {"id": experiment_id, "units": UNITS[:1]})
    assert refused["assignUnits"]["__typename"] == "ConflictError"


async def test_a_segment_action_is_published_and_audited(client, tenant):
    experiment_id, (segment, _) = await segmented_experiment(client, tenant)
    async with client.subscribe(UPDATES, {"id": experiment_id}) as updates:
        await act(client, experiment_id, "PAUSE", segment)

        async def segment_event() -> dict[str, Any]:
            while not (event := (await updates.next())["experimentUpdated"])["segmentId"]:
                pass
            return event

        event = await asyncio.wait_for(segment_event(), timeout=10)
    assert event == {
        "type": "experimentUpdated",
        "status": "RUNNING",
        "segmentId": segment,
        "segmentStatus": "PAUSED",
    }
    entries = (
        await client.data(
            AUDIT, {"filter": {"action": "experimentAction", "entityId": experiment_id}}
        )
    )["auditLog"]["nodes"]
    [paused] = [e for e in entries if "segment_states" in (e["diff"] or {})]
    assert paused["outcome"] == "ok"
    [state] = paused["diff"]["segment_states"]["to"]
    assert (state["segment_id"], state["status"]) == (segment, "paused")


async def test_units_of_untargeted_segments_are_not_assigned(client, tenant):
    experiment_id, _ = await segmented_experiment(client, tenant)
    product, _ = await make_product(tenant)
    [other] = await make_segments(tenant, product, 1)
    outside = await assign(client, experiment_id, str(other.id))
    assert {(a["arm"], a["reason"]) for a in outside} == {(None, "SEGMENT_NOT_TARGETED")}
    unsegmented, _ = await segmented_experiment(client, tenant, segments=0)
    everyone = await assign(client, unsegmented, str(other.id))
    assert all(a["arm"] for a in everyone)  # no targets: every segment takes part


async def test_target_segments_must_be_segments_of_the_experiments_product(client, tenant, api):
    product, plan = await make_product(tenant)
    [own] = await make_segments(tenant, product, 1)
    other_product, _ = await make_product(tenant)
    [foreign] = await make_segments(tenant, other_product, 1)
    other_tenant = await sign_up(api, f"Other {uuid.uuid4().hex[:6]}")
    [elsewhere] = await make_segments(TenantScope(other_tenant.tenant_id), product, 1)
    await other_tenant.client.close()
    targets = [str(own.id), str(foreign.id), str(elsewhere.id), "nope", str(own.id)]
    bad = experiment_input(product, plan, targetSegmentIds=targets)
    result = (await client.data(CREATE, {"input": bad}))["createExperiment"]
    assert result["__typename"] == "ValidationError"
    issues = {".".join(f["path"]): f["message"] for f in result["fields"]}
    assert issues == {
        "input.targetSegmentIds.1": "the segment belongs to another product",
        "input.targetSegmentIds.2": "no such segment",
        "input.targetSegmentIds.3": "not an id",
        "input.targetSegmentIds.4": "listed twice",
    }
    assert not await tenant.find(Experiment, {"name": bad["name"]}).count()


async def test_an_update_validates_targets_and_forgets_removed_segments_state(client, tenant):
    experiment_id, (first, second) = await segmented_experiment(client, tenant)
    await act(client, experiment_id, "PAUSE", first)
    product, _ = await make_product(tenant)
    [foreign] = await make_segments(tenant, product, 1)
    refused = await client.data(
        UPDATE, {"id": experiment_id, "input": {"targetSegmentIds": [second, str(foreign.id)]}}
    )
    assert refused["updateExperiment"]["__typename"] == "ValidationError"
    kept = (await client.data(SEGMENTS, {"id": experiment_id}))["experiment"]
    assert statuses(kept) == {first: "PAUSED", second: "RUNNING"}

    await client.data(UPDATE, {"id": experiment_id, "input": {"targetSegmentIds": [second]}})
    await client.data(UPDATE, {"id": experiment_id, "input": {"targetSegmentIds": [first, second]}})
    again = (await client.data(SEGMENTS, {"id": experiment_id}))["experiment"]
    assert statuses(again) == {first: "RUNNING", second: "RUNNING"}


SEGMENT_RESULTS = """query($id: ID!, $a: ID!, $b: ID!) { experiment(id: $id) {
  all: results { arms { key units conversions } }
  a: results(segmentId: $a) { ...R } b: results(segmentId: $b) { ...R } } }
fragment R on ExperimentResults { arms { key units conversions }
  comparisons { arm relativeLift { estimate ci { lower upper } } } }"""
RATES = {"control": 0.10, "higher": 0.20}  # in segment A; B converts 15% in both arms


def segment_events(assigned: dict[str, str | None], segment: str, rates: dict) -> list[dict]:
    """Every unit exposed; the first `rate` share of each arm's units converts."""
    events = []
    for arm, rate in rates.items():
        units = [unit for unit, a in assigned.items() if a == arm]
        events += [event(u, "EXPOSURE") | {"segmentId": segment} for u in units]
        events += [event(u, "CONVERSION", 100) for u in units[: round(len(units) * rate)]]
    return events


async def test_results_by_segment_count_the_units_whose_events_named_it(client, tenant):
    experiment_id, (a, b) = await segmented_experiment(client, tenant)
    in_a = await assign_all(client, experiment_id, [f"a{i}" for i in range(3000)])
    in_b = await assign_all(client, experiment_id, [f"b{i}" for i in range(3000)])
    unsegmented = await assign_all(client, experiment_id, [f"n{i}" for i in range(200)])
    # Paused while the events go in: the engine must not judge (and stop) on part of them.
    await act(client, experiment_id, "PAUSE", None)
    events = segment_events(in_a, a, RATES)
    events += segment_events(in_b, b, dict.fromkeys(RATES, 0.15))
    events += [event(unit, "EXPOSURE") for unit in unsegmented]
    assert (await ingest(client, experiment_id, events))["rejected"] == 0
    await recompute(client, experiment_id)

    variables = {"id": experiment_id, "a": a, "b": b}
    result = (await client.data(SEGMENT_RESULTS, variables))["experiment"]
    for name, assigned, rates in (("a", in_a, RATES), ("b", in_b, dict.fromkeys(RATES, 0.15))):
        sizes = {arm: sum(x == arm for x in assigned.values()) for arm in RATES}
        expected = {arm: (sizes[arm], round(sizes[arm] * rates[arm])) for arm in RATES}
        got = {arm["key"]: (arm["units"], arm["conversions"]) for arm in result[name]["arms"]}
        assert got == expected
    lift_a = result["a"]["comparisons"][0]["relativeLift"]
    assert lift_a["estimate"] == pytest.approx(1.0, abs=0.05)  # 20% against 10%
    assert lift_a["ci"]["lower"] > 0.5
    lift_b = result["b"]["comparisons"][0]["relativeLift"]
    assert lift_b["ci"]["lower"] < 0 < lift_b["ci"]["upper"]
    assert sum(arm["units"] for arm in result["all"]["arms"]) == 6200  # the unsegmented too


async def test_an_event_naming_a_segment_outside_the_experiment_changes_nothing(client, tenant):
    experiment_id, _ = await segmented_experiment(client, tenant)
    other_product, _ = await make_product(tenant)
    (stranger,) = await make_segments(tenant, other_product, 1)
    assigned = await assign_all(client, experiment_id, ["u1", "u2"])
    events = [event(unit, "EXPOSURE") for unit in assigned]
    events[1]["segmentId"] = str(stranger.id)
    batch = [{**e, "experimentId": experiment_id} for e in events]
    report = (await client.data(RECORD, {"events": batch}))["recordExperimentEvents"]
    assert report["fields"] == [
        {
            "path": ["events", "1", "segmentId"],
            "message": "no such segment of the experiment's product",
        }
    ]
    await recompute(client, experiment_id)
    query = """query($id: ID!, $s: ID) { experiment(id: $id) { results(segmentId: $s) {
      arms { units } } } }"""
    counted = (await client.data(query, {"id": experiment_id}))["experiment"]["results"]
    assert sum(arm["units"] for arm in counted["arms"]) == 0
    for wrong in ("not-an-id", str(stranger.id)):
        refused = await client.execute(query, {"id": experiment_id, "s": wrong})
        assert refused["errors"][0]["extensions"]["code"] == "VALIDATION"
        assert "no such segment" in refused["errors"][0]["message"]


async def test_each_segment_stops_on_its_own_result_while_the_whole_shows_none(client, tenant):
    """The higher price wins in A and loses in B by as much: pooled, nothing to see."""
    experiment_id, (a, b) = await segmented_experiment(client, tenant)
    in_a = await assign_all(client, experiment_id, [f"a{i}" for i in range(3000)])
    in_b = await assign_all(client, experiment_id, [f"b{i}" for i in range(3000)])
    await act(client, experiment_id, "PAUSE", None)
    events = segment_events(in_a, a, {"control": 0.10, "higher": 0.20})
    events += segment_events(in_b, b, {"control": 0.20, "higher": 0.10})
    assert (await ingest(client, experiment_id, events))["rejected"] == 0
    await act(client, experiment_id, "RESUME", None)
    await recompute(client, experiment_id)

    found = (await client.data(SEGMENTS, {"id": experiment_id}))["experiment"]
    reasons = {s["segmentId"]: s["reason"] for s in found["segments"]}
    assert statuses(found) == {a: "COMPLETED", b: "COMPLETED"}
    assert reasons[a].startswith("automatic: positive_effect")
    assert reasons[b].startswith("automatic: negative_effect")
    assert found["status"] == "COMPLETED"
    pooled = (await client.data(RESULTS, {"id": experiment_id}))["experiment"]["results"]
    assert pooled["sequential"]["shouldStop"] is False
