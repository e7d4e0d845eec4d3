"""Rule-based scoring of many accounts: the calculation's CPU per batch against a numpy floor.

Usage: python bench/scoring.py --accounts 1000000

The calculation run scores accounts in batches of 10,000 raw documents: each RULE
criterion reads its column's cells (strings, as stored), scores them (app/analytics/scoring.py),
and `Scorer.updates` builds each account's criterion scores, total, tier, contributions and
its bulk update. The floor does only the arithmetic on the same batches: the cells parsed by
numpy and one weighted average, no per-account objects. Storage round trips are left out:
they are the database's, not the scoring's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bson import ObjectId

from app.models.base import TenantScope
from app.models.scoring import (
    AccountList,
    FileFormat,
    Rule,
    RuleKind,
    ScoringCriterion,
    ScoringMethod,
    ScoringScenario,
    ValueScore,
)
from app.resolvers.scoring_calc import Scorer

BATCH = 10_000
INDUSTRIES = np.array(["saas", "retail", "health", "finance", "other"])


def batches(accounts: int, rng: np.random.Generator) -> list[list[dict]]:
    employees = rng.integers(1, 5000, accounts).astype(str)
    industry = INDUSTRIES[rng.integers(0, len(INDUSTRIES), accounts)]
    docs = [
        {
            "_id": ObjectId(),
            "revision": 0,
            "row": i + 2,
            "criterion_scores": [],
            "values": [f"a{i}", f"Account {i}", employees[i], industry[i]],
        }
        for i in range(accounts)
    ]
    return [docs[i : i + BATCH] for i in range(0, accounts, BATCH)]


def scorer() -> Scorer:
    columns = ["id", "name", "employees", "industry"]
    listed = AccountList(
        file_id=ObjectId(), filename="b.csv", format=FileFormat.CSV, bytes=0, columns=columns
    )
    found = ScoringScenario.model_construct(
        tenant_id="bench", name="bench", created_by="bench", account_list=listed
    )

    def criterion(name: str, weight: int, rule: Rule) -> ScoringCriterion:
        return ScoringCriterion.model_construct(
            id=ObjectId(),
            tenant_id="bench",
            scenario_id=ObjectId(),
            name=name,
            weight=weight,
            method=ScoringMethod.RULE,
            rule=rule,
        )

    values = [ValueScore(value="saas", score=9), ValueScore(value="finance", score=7)]
    criteria = [
        criterion("size", 3, Rule(kind=RuleKind.LINEAR, column="employees", low=0, high=2000)),
        criterion("industry", 1, Rule(kind=RuleKind.CATEGORY, column="industry", values=values)),
    ]
    return Scorer(TenantScope("bench"), found, criteria, {})


def floor(batch: list[dict]) -> np.ndarray:
    employees = np.asarray([d["values"][2] for d in batch], dtype=np.float64)
    industry = np.asarray([d["values"][3] for d in batch])
    size = np.floor(np.clip(employees / 2000, 0, 1) * 10 + 0.5)
    fit = np.where(industry == "saas", 9, np.where(industry == "finance", 7, 0))
    return np.floor(10 * (3 * size + fit) / 4 + 0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1_000_000)
    accounts = parser.parse_args().accounts
    work = batches(accounts, np.random.default_rng(1))
    bench_scorer = scorer()
    start = time.perf_counter()
    updates = sum(len(bench_scorer.updates(batch, {})) for batch in work)
    scoring = time.perf_counter() - start
    start = time.perf_counter()
    totals = sum(len(floor(batch)) for batch in work)
    numpy_floor = time.perf_counter() - start
    assert updates == totals == accounts
    print(
        f"| {accounts:,} | {scoring:.1f} | {accounts / scoring:,.0f} | {numpy_floor:.2f} | "
        f"{scoring / numpy_floor:.1f} |"
    )


if __name__ == "__main__":
    main()
