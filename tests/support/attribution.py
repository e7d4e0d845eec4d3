"""What `revenueAttribution` must answer, computed here from the months themselves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Month:
    """Revenue of a plan and segment in a month (several for one month add up)."""

    plan: str  # id
    segment: str  # id
    period: date
    revenue: int
    subscriptions: int


def assert_attribution(result: dict[str, Any], months: Iterable[Month], start: date, end: date):
    in_range = [m for m in months if start <= m.period < end]
    revenue: dict[tuple[str, str], int] = defaultdict(int)
    subscription_months: dict[tuple[str, str], int] = defaultdict(int)
    last: dict[tuple[str, str], date] = {}
    by_plan_month: dict[tuple[str, str], int] = defaultdict(int)
    for month in in_range:
        key = (month.plan, month.segment)
        revenue[key] += month.revenue
        subscription_months[key] += month.subscriptions
        last[key] = max(last.get(key, month.period), month.period)
        by_plan_month[(month.plan, month.period.isoformat())] += month.revenue
    users: dict[tuple[str, str], int] = defaultdict(int)
    for month in in_range:
        if month.period == last[(month.plan, month.segment)]:
            users[(month.plan, month.segment)] += month.subscriptions
    total = sum(revenue.values())

    assert result["totalRevenueCents"] == total
    items = {(i["planId"], i["segmentId"]): i for i in result["items"]}
    assert set(items) == set(revenue)
    for key, item in items.items():
        assert item["revenueCents"] == revenue[key]
        assert abs(item["share"] - revenue[key] / total) < 1e-12
        assert item["users"] == users[key]
        assert item["avgRevenueCents"] == round(revenue[key] / subscription_months[key])
    assert [i["revenueCents"] for i in result["items"]] == sorted(revenue.values(), reverse=True)
    charted = {
        (series["planId"], point["period"]): point["value"]
        for series in result["timeSeries"]
        for point in series["points"]
    }
    assert charted == by_plan_month
