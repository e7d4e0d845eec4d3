"""The examples in examples/ run as a user would run them, against the test server."""

from __future__ import annotations

from examples import catalog_experiment, watch_run
from tests.support.catalog import own_tenant, product, segment


async def test_the_scripted_example_builds_a_catalog_and_reads_experiment_results(api: str):
    own = await own_tenant(api)
    results = await catalog_experiment.main(api, own.client.token or "")
    await own.client.close()
    units = {arm["key"]: arm["units"] for arm in results["arms"]}
    assert sum(units.values()) == 400
    assert set(units) == {"control", "higher"}
    assert [comparison["arm"] for comparison in results["comparisons"]] == ["higher"]
    assert results["recommendation"]["reasoning"]


async def test_the_live_run_example_follows_a_run_to_its_end(api: str, worker: None):
    own = await own_tenant(api)
    catalog = await product(own.client)
    for name in ("SMB", "Enterprise"):
        await segment(own.client, catalog["id"], name, sqlWhere="monthly_revenue_cents > 0")
    run = await watch_run.main(api, own.client.token or "")
    await own.client.close()
    assert run["status"] == "COMPLETED"
    progress = run["progress"]
    assert progress["completedSteps"] == progress["totalSteps"] >= 2  # a step per segment
    lines = run["lines"]
    assert lines, "the run logged nothing"
    cursors = [line["cursor"] for line in lines]
    assert len(set(cursors)) == len(cursors)  # no line twice
