"""The synthetic dataset: deterministic, and faithful to the parameters it records.

(`services` initialises the document models the generator builds.)
"""

from __future__ import annotations

import math

import numpy as np

from app.seed import generate


def test_same_seed_gives_the_same_dataset(services):
    first, second = generate("t", seed=11), generate("t", seed=11)
    assert first.counts() == second.counts()
    assert list(first.planted["experiments"].values()) == list(
        second.planted["experiments"].values()
    )
    assert [c.monthly_revenue_cents for c in first.customers] == [
        c.monthly_revenue_cents for c in second.customers
    ]


def test_experiment_events_carry_the_planted_conversion_rates(services):
    data = generate("t", seed=3)
    for experiment in data.experiments:
        planted = data.planted["experiments"][str(experiment.id)]
        for arm in ("control", "variant"):
            events = [e for e in data.events if e.experiment_id == experiment.id and e.arm == arm]
            exposures = sum(e.kind == "exposure" for e in events)
            rate = sum(e.kind == "conversion" for e in events) / exposures
            expected = planted["conversion"][arm]
            standard_error = math.sqrt(expected * (1 - expected) / exposures)
            assert abs(rate - expected) < 4 * standard_error


def test_revenue_series_grow_at_the_planted_trend(services):
    data = generate("t", seed=5)
    for series in data.series:
        planted = data.planted["series"][str(series.id)]
        subscriptions = np.array([p.active_subscriptions for p in series.points], dtype=float)
        t = np.arange(len(subscriptions))
        # Twelve-month means cancel the seasonality; their log slope is the trend.
        yearly = np.convolve(np.log(subscriptions), np.ones(12) / 12, mode="valid")
        slope = np.polyfit(t[: len(yearly)], yearly, 1)[0]
        assert abs(math.expm1(slope) - planted["monthly_trend"]) < 0.006


def test_running_experiments_started_before_their_first_event(services):
    data = generate("t", seed=3)
    assert data.experiments
    for experiment in data.experiments:
        first = min(e.occurred_at for e in data.events if e.experiment_id == experiment.id)
        assert experiment.status == "running"
        assert experiment.started_at is not None and experiment.started_at <= first


def test_the_demo_banner_says_graphiql_needs_the_internet():
    from app.demo import DemoAccess, banner

    access = DemoAccess("demo", "demo@example.com", "pw", "pk_x", {"products": 2})
    text = banner(access, "http://127.0.0.1:8000/graphql")
    assert "unpkg.com" in text and "offline" in text
