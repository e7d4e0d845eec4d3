"""Customer value through the API: orders in batches, the tenant's fit, a customer's value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from beanie import PydanticObjectId

from app.analytics.customer_value import BgNbd
from app.models import Customer, TenantScope
from app.models.customer_value import Order
from app.resolvers.customer_value import MAX_BATCH
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.test_analytics_customer_value import simulate_bgnbd

RECORD = """mutation($orders: [OrderInput!]!) { recordOrders(orders: $orders) { __typename
  ... on OrderReport { recorded duplicates } ... on ValidationError { fields { path } } } }"""
FIT = """mutation { fitCustomerValueModel { __typename
  ... on CustomerValueModel { r alpha a b p q gamma customers repeatCustomers }
  ... on ValidationError { message } } }"""
VALUE = """query($id: ID!, $h: Int!) { customerValue(customerId: $id, horizonDays: $h) {
  currentValueCents expectedLifetimeValueCents expectedPurchases expectedOrderValueCents
  probabilityAlive churnRisk valueDrivers riskFactors nextBestAction model { customers } } }"""
NOW = datetime.now(UTC).replace(microsecond=0)
HISTORY_DAYS = 200.0


async def customers(tenant: TenantScope, client: GraphQLClient, count: int) -> list[str]:
    product = await catalog.product(client)
    ids = []
    for i in range(count):
        doc = Customer(
            tenant_id=tenant.tenant_id,
            product_id=PydanticObjectId(product["id"]),
            external_id=f"c{i}",
            signup_at=NOW - timedelta(days=HISTORY_DAYS),
        )
        ids.append(str((await tenant.insert(doc)).id))
    return ids


def orders_of(customer: str, repeat: int, last_day: float, amount: int) -> list[dict[str, Any]]:
    """A first order HISTORY_DAYS ago and `repeat` more evenly up to day `last_day`."""
    days = [0.0] + [last_day * k / repeat for k in range(1, repeat + 1)]
    start = NOW - timedelta(days=HISTORY_DAYS)
    return [
        {
            "orderId": f"{customer}-{k}",
            "customerId": customer,
            "amountCents": amount + 100 * (k % 3),
            "at": (start + timedelta(days=day)).isoformat(),
        }
        for k, day in enumerate(days)
    ]


async def record(client: GraphQLClient, orders: list[dict[str, Any]]) -> dict[str, Any]:
    return (await client.data(RECORD, {"orders": orders}))["recordOrders"]


async def test_a_fitted_tenant_reads_value_churn_risk_and_next_best_action(
    client: GraphQLClient, tenant: TenantScope
) -> None:
    ids = await customers(tenant, client, 82)
    x, t_x, _ = simulate_bgnbd(BgNbd(0.6, 15.0, 0.8, 3.0), 80, HISTORY_DAYS, seed=3)
    rng = np.random.default_rng(5)
    orders = [
        order
        for cid, repeat, last in zip(ids[:80], x, t_x, strict=True)
        for order in orders_of(cid, int(repeat), last, int(rng.integers(2_000, 8_000)))
    ]
    loyal, lapsed = ids[80], ids[81]
    orders += orders_of(loyal, 12, HISTORY_DAYS - 1, 9_000)
    orders += orders_of(lapsed, 12, 20, 9_000)
    first = await record(client, orders)
    assert first == {"__typename": "OrderReport", "recorded": len(orders), "duplicates": 0}
    again = await record(client, orders[:10])
    assert again == {"__typename": "OrderReport", "recorded": 0, "duplicates": 10}
    assert await tenant.find(Order).count() == len(orders)

    fit = (await client.data(FIT))["fitCustomerValueModel"]
    assert fit["__typename"] == "CustomerValueModel", fit
    assert fit["customers"] == 82
    assert all(fit[k] > 0 for k in ("r", "alpha", "a", "b", "p", "q", "gamma"))

    kept = (await client.data(VALUE, {"id": loyal, "h": 365}))["customerValue"]
    gone = (await client.data(VALUE, {"id": lapsed, "h": 365}))["customerValue"]
    assert kept["currentValueCents"] == sum(
        o["amountCents"] for o in orders_of(loyal, 12, 1, 9_000)
    )
    assert kept["churnRisk"] == 1 - kept["probabilityAlive"]
    assert gone["churnRisk"] > 0.5 > kept["churnRisk"]
    assert gone["nextBestAction"] == "WIN_BACK"
    assert kept["nextBestAction"] == "UPSELL"
    assert kept["expectedLifetimeValueCents"] > gone["expectedLifetimeValueCents"]
    assert (
        abs(
            kept["expectedLifetimeValueCents"]
            - kept["expectedPurchases"] * kept["expectedOrderValueCents"]
        )
        < 0.01 * kept["expectedLifetimeValueCents"]
    )
    assert any("days since the last order" in r for r in gone["riskFactors"])
    assert kept["riskFactors"] == []
    assert kept["valueDrivers"][0].startswith("12 repeat orders")


async def test_bad_orders_are_validation_errors_and_store_nothing(
    client: GraphQLClient, tenant: TenantScope
) -> None:
    [cid] = await customers(tenant, client, 1)
    good = orders_of(cid, 1, 10, 1_000)
    cases = [
        ([{**good[0], "amountCents": -5}], ["orders", "1", "amountCents"]),
        ([{**good[0], "customerId": str(PydanticObjectId())}], ["orders", "1", "customerId"]),
        ([{**good[0], "at": (NOW + timedelta(days=2)).isoformat()}], ["orders", "1", "at"]),
        ([good[0]] * (MAX_BATCH + 1), ["orders"]),
    ]
    for orders, path in cases:
        result = await record(client, [good[1], *orders])
        assert result["__typename"] == "ValidationError"
        assert [f["path"] for f in result["fields"]] == [path]
    assert await tenant.find(Order, {"customer_id": PydanticObjectId(cid)}).count() == 0


async def test_fit_without_enough_orders_and_bad_value_queries_are_clear_errors(api: str) -> None:
    own = await catalog.own_tenant(api)
    try:
        fit = (await own.client.data(FIT))["fitCustomerValueModel"]
        assert fit["__typename"] == "ValidationError"
        assert "at least 20 customers" in fit["message"]
        unknown = await own.client.execute(VALUE, {"id": str(PydanticObjectId()), "h": 30})
        assert unknown["data"] is None and unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        horizon = await own.client.execute(VALUE, {"id": str(PydanticObjectId()), "h": 0})
        assert "horizonDays" in horizon["errors"][0]["message"]
    finally:
        await own.client.close()
