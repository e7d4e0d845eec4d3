"""Benchmark `planEconomics` on a plan with many customers.

Starts the stores in process (embedded server, no Redis), inserts N customers on one plan,
and times the unit-economics computation, which is one aggregation over the plan's
customers, against the baseline of loading those customers as documents (what it did
before), measured in the same run.

    .venv/bin/python bench/economics.py --customers 100000
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory leads sys.path, where a sibling module could shadow the
# standard library; the repository root belongs there instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:1] = [str(ROOT)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from bson import ObjectId  # noqa: E402

from app.db import connect  # noqa: E402
from app.models import Customer, PricingPlan, TenantScope  # noqa: E402
from app.resolvers.projection import plan_economics  # noqa: E402
from app.settings import Settings  # noqa: E402

TENANT = "bench"


def customers(plan: PricingPlan, count: int) -> list[dict[str, Any]]:
    rng, now = random.Random(1), datetime.now(UTC)
    docs = []
    for i in range(count):
        signup = now - timedelta(days=rng.uniform(30, 700))
        churned = signup + timedelta(days=rng.uniform(1, 25)) if rng.random() < 0.2 else None
        docs.append(
            {
                "tenant_id": TENANT,
                "product_id": plan.product_id,
                "plan_id": plan.id,
                "external_id": f"c{i}",
                "monthly_revenue_cents": rng.randint(1_000, 9_000),
                "signup_at": signup,
                "churned_at": churned,
                "revision": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
    return docs


async def best_of(fn: Callable[[], Awaitable[object]], repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        runs.append(time.perf_counter() - start)
    return min(runs)


async def main(count: int) -> None:
    settings = Settings(jwt_secret=uuid.uuid4().hex * 2, redis_url=None)
    database = await connect(settings)
    try:
        scope = TenantScope(TENANT)
        plan = await scope.insert(
            PricingPlan(tenant_id=TENANT, product_id=ObjectId(), name="P", unit_price_cents=5000)
        )
        await Customer.get_pymongo_collection().insert_many(customers(plan, count))
        load = await best_of(lambda: scope.find(Customer, {"plan_id": plan.id}).to_list())
        aggregate = await best_of(lambda: plan_economics(scope, str(plan.id), None))
    finally:
        await database.close()
    print(f"{count} customers on one plan, best of 3")
    print("| operation | seconds | ratio to baseline |")
    print("|---|---:|---:|")
    print(f"| baseline: load the plan's customers as documents | {load:.2f} | 1.00 |")
    print(f"| planEconomics (one aggregation) | {aggregate:.2f} | {aggregate / load:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().customers))
