"""An experiment's price recommendation agrees with its comparisons' verdict.

The use case `analyse` is a pure function of the arms' counters, so these tests give it
counters directly: three tested prices whose conversions put the revenue optimum at the
middle one, with per-buyer revenue either steady or so spread (large add-ons) that the
revenue comparison cannot tell the middle price from control.
"""

from __future__ import annotations

from bson import ObjectId

from app.analytics.experiment import ArmCounters, Results, analyse
from app.models.experiment import Experiment, ExperimentArm, PrimaryMetric

PRICES = {"control": 10_000, "mid": 12_000, "high": 14_000}
CONVERSIONS = {"control": 1_000, "mid": 990, "high": 600}


def results(spread: float) -> Results:
    """10,000 units per arm; each buyer's squared revenue is `spread` x the price squared."""
    arms = [
        ExperimentArm(
            key=key,
            plan_id=ObjectId(),
            price_cents=price,
            traffic_share=1 / 3,
            control=key == "control",
        )
        for key, price in PRICES.items()
    ]
    experiment = Experiment.model_construct(
        arms=arms, primary_metric=PrimaryMetric.REVENUE_PER_VISITOR, alpha=0.05, guardrails=[]
    )
    counters = []
    for arm in arms:
        buyers, price = CONVERSIONS[arm.key], arm.price_cents
        counters.append(
            ArmCounters(
                arm,
                0,
                n=10_000,
                conversions=buyers,
                revenue=buyers * price,
                revenue_squares=buyers * price * price * spread,
                revenue_converted=buyers * price,
            )
        )
    return analyse(experiment, counters)


def test_a_confident_move_stands_when_its_comparison_is_a_significant_win() -> None:
    found = results(spread=1.0)
    assert found.recommendation is not None
    assert found.recommendation.confidence == "high"
    assert found.comparisons[0].significant
    assert found.recommendation.next_steps[-1].startswith("Roll out 119.00")


def test_a_move_the_revenue_comparison_does_not_confirm_is_at_most_medium() -> None:
    found = results(spread=40.0)
    recommendation = found.recommendation
    assert recommendation is not None
    assert not found.comparisons[0].significant
    assert recommendation.confidence == "medium"
    assert "comparison of mid with control is not a win" in recommendation.reasoning[-1]
    assert recommendation.next_steps[-1].startswith("Keep testing: the revenue_per_visitor")
