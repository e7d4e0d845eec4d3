"""Event ingestion, results against an independent computation, and automatic stopping."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from bson import ObjectId
from scipy import stats

from app.analytics.pricing import psychological_price
from app.models import Experiment, ExperimentUnit, TenantScope
from app.resolvers.experiment_events import flush
from app.resolvers.experiment_results import compute, process
from app.seed import seed
from tests.support.experiments import (
    ACTION,
    RECORD,
    RESULTS,
    assign_all,
    create_experiment,
    event,
    ingest,
    pause,
    recompute,
    simulate,
)
from tests.support.tenants import sign_up

ENGINE_ELECTION = "experiment-engine"  # the claim that elects one engine per turn (jobs/)
UPDATES = """subscription($id: ID!) { experimentUpdated(experimentId: $id, since: "0") {
  type status stopReason cursor } }"""


async def until_completed(updates: Any) -> dict[str, Any]:
    while (update := (await updates.next())["experimentUpdated"])["status"] != "COMPLETED":
        pass
    return update


async def test_results_match_an_independent_welch_test_on_the_raw_events(client, tenant):
    created = await create_experiment(client, tenant, primaryMetric="REVENUE_PER_VISITOR")
    arms = await assign_all(client, created["id"], [f"u{i}" for i in range(4000)])
    await pause(client, created["id"])
    prices = {"control": 10_000, "higher": 12_000}
    events, revenue, converted = simulate(arms, {"control": 0.10, "higher": 0.095}, prices, 1)
    totals = await ingest(client, created["id"], events)
    assert totals == {"accepted": len(events), "duplicates": 0, "rejected": 0}
    await recompute(client, created["id"])
    result = (await client.data(RESULTS, {"id": created["id"]}))["experiment"]["results"]

    by_arm = {a["key"]: a for a in result["arms"]}
    for arm in ("control", "higher"):
        assert by_arm[arm]["units"] == len(revenue[arm])
        assert by_arm[arm]["conversions"] == sum(converted[arm])
        assert np.isclose(by_arm[arm]["revenuePerVisitorCents"], np.mean(revenue[arm]))
    welch = stats.ttest_ind(revenue["higher"], revenue["control"], equal_var=False)
    comparison = result["comparisons"][0]
    assert comparison["method"] == "Welch t-test"
    assert np.isclose(comparison["absoluteLift"]["pValue"], welch.pvalue, rtol=1e-9)
    # The verdict is on the relative scale, p-value and interval alike (delta method).
    assert (comparison["scale"], comparison["verdictMethod"]) == ("RELATIVE", "DELTA")
    assert comparison["pValue"] == comparison["relativeLift"]["pValue"]
    assert comparison["ci"] == comparison["relativeLift"]["ci"]
    assert comparison["normalApproximationTrusted"] is True
    ci = welch.confidence_interval(0.95)
    assert np.isclose(comparison["absoluteLift"]["ci"]["lower"], ci.low)
    assert np.isclose(comparison["absoluteLift"]["ci"]["upper"], ci.high)


async def test_few_buyers_get_fiellers_verdict_and_no_stop_on_the_effect(client, tenant):
    """About 14 buyers in control: the normal approximation is not yet trustworthy, so
    the verdict is Fieller's interval with its own p-value, a note says why, and the
    stopping rule waits although the confidence sequence already excludes 0."""
    created = await create_experiment(client, tenant, primaryMetric="REVENUE_PER_VISITOR")
    arms = await assign_all(client, created["id"], [f"fb{i}" for i in range(700)])
    await pause(client, created["id"])
    prices = {"control": 10_000, "higher": 10_000}
    events, revenue, _ = simulate(arms, {"control": 0.04, "higher": 0.4}, prices, 8)
    await ingest(client, created["id"], events)
    await recompute(client, created["id"])
    result = (await client.data(RESULTS, {"id": created["id"]}))["experiment"]["results"]
    comparison = result["comparisons"][0]
    assert comparison["normalApproximationTrusted"] is False
    assert (comparison["scale"], comparison["verdictMethod"]) == ("RELATIVE", "FIELLER")
    assert comparison["ci"] == comparison["fiellerCi"]
    welch = stats.ttest_ind(revenue["higher"], revenue["control"], equal_var=False)
    assert np.isclose(comparison["pValue"], welch.pvalue, rtol=1e-9)
    assert comparison["significant"] and comparison["ci"]["lower"] > 0
    assert any("not yet trustworthy" in note for note in result["notes"])
    assert comparison["sequentialPValue"] < 0.05  # the sequence alone would stop
    assert result["sequential"]["shouldStop"] is False


CUPED_RESULTS = """query($id: ID!) { experiment(id: $id) { results { comparisons {
  method absoluteLift { estimate stdError ci { lower upper } } cuped { theta varianceReduction }
} } } }"""


def planted_covariate(
    arms: dict[str, str | None], lift: int, seed: int
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Pre-period revenue X and revenue Y = 2000 + 0.8 X + noise (+ lift in the variant),
    corr(X, Y) = 0.9 within each arm: exposure, revenue and pre-period events per unit."""
    rng = np.random.default_rng(seed)
    events: list[dict[str, Any]] = []
    xs: dict[str, list[int]] = defaultdict(list)
    ys: dict[str, list[int]] = defaultdict(list)
    noise = 0.8 * 3000 * np.sqrt((1 - 0.9**2) / 0.9**2)
    for unit, arm in arms.items():
        if arm is None:
            continue
        x = max(0, round(rng.normal(10_000, 3000)))
        y = max(0, round(2000 + 0.8 * x + rng.normal(0, noise) + (lift if arm != "control" else 0)))
        events += [event(unit, "EXPOSURE"), event(unit, "PRE_PERIOD_REVENUE", x)]
        events += [event(unit, "REVENUE", y)] if y else []
        xs[arm].append(x)
        ys[arm].append(y)
    random.Random(seed).shuffle(events)
    return events, {a: np.array(v) for a, v in xs.items()}, {a: np.array(v) for a, v in ys.items()}


async def test_cuped_with_ingested_pre_period_revenue_narrows_the_interval_without_bias(
    client, tenant
):
    created = await create_experiment(client, tenant, primaryMetric="REVENUE_PER_VISITOR")
    arms = await assign_all(client, created["id"], [f"c{i}" for i in range(2400)])
    await pause(client, created["id"])
    lift = 500
    events, xs, ys = planted_covariate(arms, lift, 5)
    await ingest(client, created["id"], events)
    pre_period = [e for e in events if e["kind"] == "PRE_PERIOD_REVENUE"]
    again = await ingest(client, created["id"], pre_period)
    assert again["duplicates"] == len(pre_period)  # repeated pre-period events count once
    await recompute(client, created["id"])
    [comparison] = (await client.data(CUPED_RESULTS, {"id": created["id"]}))["experiment"][
        "results"
    ]["comparisons"]

    # Independent CUPED: pooled within-arm OLS slope, adjusted difference of means.
    centred = {a: (xs[a] - xs[a].mean(), ys[a] - ys[a].mean()) for a in xs}
    sxy = sum(float((cx * cy).sum()) for cx, cy in centred.values())
    sxx = sum(float((cx**2).sum()) for cx, _ in centred.values())
    syy = sum(float((cy**2).sum()) for _, cy in centred.values())
    theta, rho = sxy / sxx, sxy / np.sqrt(sxx * syy)
    expected = ys["higher"].mean() - ys["control"].mean()
    expected -= theta * (xs["higher"].mean() - xs["control"].mean())
    assert comparison["method"] == "CUPED Welch t-test"
    assert np.isclose(comparison["cuped"]["theta"], theta, rtol=1e-9)
    assert np.isclose(comparison["absoluteLift"]["estimate"], expected, rtol=1e-9)

    # The interval shrinks by about sqrt(1 - rho^2) against the raw Welch interval...
    raw = stats.ttest_ind(ys["higher"], ys["control"], equal_var=False).confidence_interval()
    ci = comparison["absoluteLift"]["ci"]
    shrink = (ci["upper"] - ci["lower"]) / (raw.high - raw.low)
    assert abs(shrink - np.sqrt(1 - rho**2)) < 0.02 and shrink < 0.5
    assert abs(comparison["cuped"]["varianceReduction"] - rho**2) < 0.02
    # ... and stays centred on the planted lift. The arms come from hashing a new
    # experiment's id, so the data differ per run: a 95% interval would miss 1 run in 20;
    # 4 standard errors miss 1 in 16,000.
    assert (
        abs(comparison["absoluteLift"]["estimate"] - lift)
        < 4 * comparison["absoluteLift"]["stdError"]
    )
    unit, arm = next((u, a) for u, a in arms.items() if a is not None)
    stored = await tenant.find(
        ExperimentUnit, {"experiment_id": ObjectId(created["id"]), "unit_id": unit}
    ).first_or_none()
    sent = next(e["amountCents"] for e in pre_period if e["unitId"] == unit)
    assert stored is not None and stored.covariate == sent and stored.arm == arm


async def test_the_same_batch_sent_twice_counts_once(client, tenant):
    created = await create_experiment(client, tenant)
    arms = await assign_all(client, created["id"], [f"v{i}" for i in range(600)])
    await pause(client, created["id"])
    events, _, converted = simulate(
        arms, {"control": 0.2, "higher": 0.2}, {"control": 1, "higher": 1}, 2
    )
    first = await ingest(client, created["id"], events[:500])
    again = await ingest(client, created["id"], events[:500])
    assert first["accepted"] == 500
    assert again == {"accepted": 0, "duplicates": 500, "rejected": 0}
    await ingest(client, created["id"], events[500:])
    await recompute(client, created["id"])
    result = (await client.data(RESULTS, {"id": created["id"]}))["experiment"]["results"]
    assert sum(a["conversions"] for a in result["arms"]) == sum(map(sum, converted.values()))
    assert sum(a["units"] for a in result["arms"]) == sum(map(len, converted.values()))
    stored = await tenant.find(ExperimentUnit, {"experiment_id": ObjectId(created["id"])}).count()
    assert stored == sum(arm is not None for arm in arms.values())


async def test_events_for_a_draft_or_outside_the_rollout_are_rejected(client, tenant):
    draft = await create_experiment(client, tenant, start=False)
    report = (
        await client.data(
            RECORD, {"events": [{**event("x", "EXPOSURE"), "experimentId": draft["id"]}]}
        )
    )["recordExperimentEvents"]
    assert report["accepted"] == 0 and report["rejected"][0]["reason"] == "the experiment is draft"
    partial = await create_experiment(client, tenant, rollout=0.1)
    arms = await assign_all(client, partial["id"], [f"w{i}" for i in range(200)])
    outside = [u for u, arm in arms.items() if arm is None]
    totals = await ingest(client, partial["id"], [event(u, "EXPOSURE") for u in outside])
    assert totals == {"accepted": 0, "duplicates": 0, "rejected": len(outside)}


async def test_a_malformed_batch_is_a_validation_error(client, tenant):
    created = await create_experiment(client, tenant)
    bad = [{**event("y", "EXPOSURE", 5), "experimentId": created["id"]}]
    result = (await client.data(RECORD, {"events": bad}))["recordExperimentEvents"]
    assert result["__typename"] == "ValidationError"
    assert result["fields"][0]["path"] == ["events", "0", "amountCents"]


async def test_the_engine_stops_a_clear_winner_and_announces_it(client, tenant, worker):
    created = await create_experiment(client, tenant, primaryMetric="CONVERSION")
    arms = await assign_all(client, created["id"], [f"z{i}" for i in range(3000)])
    # About 150 conversions in control: enough for the normal approximation to be trusted.
    rates = {"control": 0.10, "higher": 0.20}
    events, _, _ = simulate(arms, rates, {"control": 1, "higher": 1}, 3)
    async with client.subscribe(UPDATES, {"id": created["id"]}) as updates:
        await ingest(client, created["id"], events)
        # The worker's engine loop (EXPERIMENT_ENGINE_SECONDS) flushes, recomputes, stops.
        seen = await asyncio.wait_for(until_completed(updates), timeout=30)
    assert seen["status"] == "COMPLETED"
    assert seen["stopReason"].startswith("positive_effect")
    found = (await client.data(RESULTS, {"id": created["id"]}))["experiment"]
    assert found["status"] == "COMPLETED" and found["stopReason"] == seen["stopReason"]
    assert found["results"]["comparisons"][0]["chanceToBeatControl"] > 0.999


async def test_an_automatic_stop_ends_the_advice_to_keep_testing(client, tenant):
    """Equal arms and a small plan: the sample cap stops the experiment undecided, and its
    results say so instead of asking for more visitors it will never get."""
    created = await create_experiment(client, tenant, plannedSampleSizePerArm=150)
    arms = await assign_all(client, created["id"], [f"k{i}" for i in range(800)])
    await pause(client, created["id"])
    prices = {"control": 10_000, "higher": 12_000}
    events, _, _ = simulate(arms, {"control": 0.2, "higher": 0.2}, prices, 4)
    await ingest(client, created["id"], events)
    await client.data(ACTION, {"id": created["id"], "action": "RESUME"})
    await recompute(client, created["id"])
    found = (await client.data(RESULTS, {"id": created["id"]}))["experiment"]
    assert found["status"] == "COMPLETED", found["stopReason"]
    recommendation = found["results"]["recommendation"]
    steps = recommendation["nextSteps"]
    assert not any(step.startswith("Keep testing") for step in steps), steps
    if recommendation["confidence"] != "HIGH":
        assert steps[-1].startswith(f"The experiment has stopped ({found['stopReason']})")


async def test_seeded_experiments_recover_the_planted_lift(api, services):
    seeded = await sign_up(api, "Seeded experiments")
    manifest = await seed(TenantScope(seeded.tenant_id), customers_per_product=50)
    query = """{ experiments(first: 10) { nodes { id arms { key priceCents } results {
      comparisons { method relativeLift { estimate ci { lower upper } } }
      elasticity { elasticity ci { lower upper } }
      recommendation { priceCents optimalPriceCents controlPriceCents demandCurve } } } } }"""
    nodes = (await seeded.client.data(query))["experiments"]["nodes"]
    assert len(nodes) == len(manifest.planted["experiments"]) == 2
    for node in nodes:
        planted = manifest.planted["experiments"][node["id"]]
        lift = node["results"]["comparisons"][0]["relativeLift"]
        assert lift["ci"]["lower"] < planted["true_relative_lift"] < lift["ci"]["upper"]
        ci = node["results"]["elasticity"]["ci"]
        assert ci["lower"] < planted["elasticity"] < ci["upper"]
        recommendation = node["results"]["recommendation"]
        assert recommendation["demandCurve"] in ("constant-elasticity", "linear", "log-quadratic")
        # The optimum with its price ending (.99 below 100), or the control price.
        tested = [arm["priceCents"] / 100 for arm in node["arms"]]
        optimum = recommendation["optimalPriceCents"] / 100
        ended = round(psychological_price(optimum, lower=min(tested), upper=max(tested)) * 100)
        assert recommendation["priceCents"] in (ended, recommendation["controlPriceCents"])
    await seeded.client.close()


async def test_recompute_counts_every_acknowledged_event_while_the_engine_is_flushing(
    client, tenant, services
):
    """The engine's flush has taken the pending counters aside and is still writing them
    when the recomputation (`recomputeExperiment`'s use case) starts: it must wait for that
    write. The recomputation runs here without the HTTP round trips, so that its results are
    read while the engine is still preparing its write: the race is on every time."""
    async with the_only_engine(services):
        await flush_during_recompute(client, tenant, services)


@contextlib.asynccontextmanager
async def the_only_engine(services) -> AsyncIterator[None]:
    """No worker's engine takes a turn meanwhile (another test may have started one): this
    test holds the engine's election, so no other flush empties the counters first. A turn
    already under way listed its experiments before this test created its own."""
    await services.kv.set(ENGINE_ELECTION, "a test", 120)
    try:
        yield
    finally:
        await services.kv.set(ENGINE_ELECTION, "a test", 1)  # the workers' turn again


async def flush_during_recompute(client, tenant, services) -> None:
    created = await create_experiment(client, tenant)
    arms = await assign_all(client, created["id"], [f"f{i}" for i in range(6000)])
    await pause(client, created["id"])
    units = [unit for unit, arm in arms.items() if arm is not None]
    totals = await ingest(client, created["id"], [event(u, "EXPOSURE") for u in units], 1000)
    assert totals["accepted"] == len(units)
    experiment = await tenant.get(Experiment, created["id"])
    assert experiment is not None
    engine = asyncio.create_task(flush(services, experiment))
    await asyncio.sleep(0)  # the engine's flush goes first, as when it began a moment ago
    recomputed = await process(services, experiment, force=True)
    results = await compute(tenant, recomputed)
    assert await engine == len(units)  # the engine's flush took every counter
    assert sum(arm.n for arm in results.arms) == len(units)
