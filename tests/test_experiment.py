"""Experiments: creation and validation, the lifecycle, roles, and sticky assignment."""

from __future__ import annotations

import math

from scipy import stats

from tests.support.experiments import (
    ACTION,
    ASSIGN_UNITS,
    CREATE,
    UPDATE,
    assign_all,
    create_experiment,
    experiment_input,
    make_product,
)


async def test_created_experiment_plans_its_sample_size_with_the_power_formula(client, tenant):
    created = await create_experiment(client, tenant, start=False)
    # Fleiss' formula at p1 = 0.10, p2 = 0.12, alpha 0.05, power 0.8 (R power.prop.test: 3841).
    p1, p2 = 0.10, 0.12
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    p_bar = (p1 + p2) / 2
    n = (z_a * (2 * p_bar * (1 - p_bar)) ** 0.5 + z_b * (p1 * (1 - p1) + p2 * (1 - p2)) ** 0.5) ** 2
    assert created["plannedSampleSizePerArm"] == math.ceil(n / (p2 - p1) ** 2) == 3841
    assert created["status"] == "DRAFT"
    assert [a["control"] for a in created["arms"]] == [True, False]


async def test_invalid_arms_are_rejected_with_field_paths_and_nothing_is_stored(client, tenant):
    product, plan = await make_product(tenant)
    bad = experiment_input(product, plan)
    bad["arms"][1].update(priceCents=0, trafficShare=0.7)
    result = (await client.data(CREATE, {"input": bad}))["createExperiment"]
    assert result["__typename"] == "ValidationError"
    paths = {".".join(f["path"]) for f in result["fields"]}
    assert {"input.arms", "input.arms.1.priceCents"} <= paths
    listed = await client.data("{ experiments(first: 100) { nodes { name } } }")
    assert bad["name"] not in [n["name"] for n in listed["experiments"]["nodes"]]


async def test_an_experiment_needs_exactly_one_control(client, tenant):
    product, plan = await make_product(tenant)
    bad = experiment_input(product, plan)
    bad["arms"][0]["control"] = False
    result = (await client.data(CREATE, {"input": bad}))["createExperiment"]
    assert result["__typename"] == "ValidationError"


async def test_lifecycle_runs_draft_running_paused_completed_retired(client, tenant):
    created = await create_experiment(client, tenant, start=False)
    statuses = []
    for action in ("START", "PAUSE", "RESUME", "STOP", "RETIRE"):
        result = await client.data(ACTION, {"id": created["id"], "action": action})
        statuses.append(result["experimentAction"]["status"])
    assert statuses == ["RUNNING", "PAUSED", "RUNNING", "COMPLETED", "RETIRED"]
    found = await client.data(
        "query($id: ID!) { experiment(id: $id) { status stopReason stoppedAt } }",
        {"id": created["id"]},
    )
    assert found["experiment"]["stopReason"] == "stopped by a user"


async def test_illegal_transitions_are_conflicts_that_change_nothing(client, tenant):
    created = await create_experiment(client, tenant, start=False)
    for action in ("PAUSE", "RESUME", "STOP", "RETIRE"):
        result = (await client.data(ACTION, {"id": created["id"], "action": action}))[
            "experimentAction"
        ]
        assert result["__typename"] == "ConflictError", (action, result)
    found = await client.data(
        "query($id: ID!) { experiment(id: $id) { status } }", {"id": created["id"]}
    )
    assert found["experiment"]["status"] == "DRAFT"


async def test_the_design_is_frozen_once_running_but_rollout_may_change(client, tenant):
    created = await create_experiment(client, tenant)
    design = await client.data(UPDATE, {"id": created["id"], "input": {"alpha": 0.01}})
    assert design["updateExperiment"]["__typename"] == "ConflictError"
    rollout = await client.data(UPDATE, {"id": created["id"], "input": {"rollout": 0.5}})
    assert rollout["updateExperiment"]["rollout"] == 0.5


async def test_a_viewer_cannot_create_experiments(client, tenant):
    key = await client.data(
        'mutation { createApiKey(input: {name: "v", role: VIEWER}) '
        "{ ... on CreatedApiKey { key } } }"
    )
    viewer = client.as_(key["createApiKey"]["key"])
    product, plan = await make_product(tenant)
    body = await viewer.execute(CREATE, {"input": experiment_input(product, plan)})
    assert body["data"] is None or body["data"]["createExperiment"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_assignment_is_deterministic_and_follows_the_traffic_split(client, tenant):
    arms = [
        {
            "key": "control",
            "planId": "",
            "priceCents": 10_000,
            "trafficShare": 0.5,
            "control": True,
        },
        {"key": "a", "planId": "", "priceCents": 11_000, "trafficShare": 0.3},
        {"key": "b", "planId": "", "priceCents": 12_000, "trafficShare": 0.2},
    ]
    product, plan = await make_product(tenant)
    for arm in arms:
        arm["planId"] = str(plan.id)
    created = (await client.data(CREATE, {"input": experiment_input(product, plan, arms=arms)}))[
        "createExperiment"
    ]
    await client.data(ACTION, {"id": created["id"], "action": "START"})
    units = [f"user-{i}" for i in range(20_000)]
    first = await assign_all(client, created["id"], units)
    again = await assign_all(client, created["id"], units[:1000])
    assert again == {u: first[u] for u in units[:1000]}
    counts = [sum(1 for arm in first.values() if arm == key) for key in ("control", "a", "b")]
    # Chi-square goodness of fit against the planned shares (the split is a fair multinomial).
    assert stats.chisquare(counts, [20_000 * s for s in (0.5, 0.3, 0.2)]).pvalue > 0.001


async def test_raising_the_rollout_keeps_included_units_in_their_arm(client, tenant):
    created = await create_experiment(client, tenant, rollout=0.3)
    units = [f"visitor-{i}" for i in range(3000)]
    before = await assign_all(client, created["id"], units)
    await client.data(UPDATE, {"id": created["id"], "input": {"rollout": 0.8}})
    after = await assign_all(client, created["id"], units)
    included = {u: arm for u, arm in before.items() if arm is not None}
    assert all(after[u] == arm for u, arm in included.items())
    share_before, share_after = (
        len(included) / 3000,
        sum(a is not None for a in after.values()) / 3000,
    )
    assert abs(share_before - 0.3) < 4 * (0.3 * 0.7 / 3000) ** 0.5
    assert abs(share_after - 0.8) < 4 * (0.8 * 0.2 / 3000) ** 0.5


async def test_a_batch_above_the_cap_is_rejected(client, tenant):
    created = await create_experiment(client, tenant)
    units = [f"u{i}" for i in range(1001)]
    result = await client.data(ASSIGN_UNITS, {"id": created["id"], "units": units})
    assert result["assignUnits"]["__typename"] == "ValidationError"
