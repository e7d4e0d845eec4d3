"""Several experiments side by side: each one's arms with the same metrics, lifts and
elasticity, one row per experiment and arm (the seeds' analytics service compares
experiments this way)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bson import ObjectId

from app.analytics.elasticity import ElasticityFit
from app.analytics.experiment import ArmCounters, VariantComparison
from app.errors import FieldIssue, ValidationFailed
from app.models.base import parse_id
from app.models.experiment import Experiment, PrimaryMetric
from app.resolvers.ctx import ResolverCtx
from app.resolvers.experiment_results import results_of

MAX_COMPARED = 20  # each experiment is one results computation


@dataclass(frozen=True)
class ComparedArm:
    """One arm of one experiment; `comparison` is None for the control arm."""

    experiment: Experiment
    metric: PrimaryMetric
    counters: ArmCounters
    comparison: VariantComparison | None
    elasticity: ElasticityFit | None


def _problem(index: int, oids: list[ObjectId | None], found: Collection[ObjectId]) -> str | None:
    oid = oids[index]
    if oid is None or oid not in found:
        return "no such experiment"
    return "named twice" if oid in oids[:index] else None


async def _experiments(ctx: ResolverCtx, ids: Sequence[str]) -> list[Experiment]:
    """The named experiments in order, or one validation error naming every bad id."""
    if not 1 <= len(ids) <= MAX_COMPARED:
        raise ValidationFailed.single("ids", f"name 1 to {MAX_COMPARED} experiments")
    oids = [parse_id(raw) for raw in ids]
    found = await ctx.scope.get_many(Experiment, [oid for oid in oids if oid is not None])
    problems = [(i, _problem(i, oids, found.keys())) for i in range(len(oids))]
    issues = [FieldIssue(("ids", str(i)), text) for i, text in problems if text is not None]
    if issues:
        raise ValidationFailed(issues, f"ids: {issues[0].message}")
    return [found[oid] for oid in oids if oid is not None]


async def compare_experiments(ctx: ResolverCtx, ids: Sequence[str]) -> list[ComparedArm]:
    rows: list[ComparedArm] = []
    for experiment in await _experiments(ctx, ids):
        results = await results_of(ctx, experiment, None)
        by_arm = {c.arm: c for c in results.comparisons}
        rows.extend(
            ComparedArm(
                experiment,
                PrimaryMetric(results.metric),
                arm,
                by_arm.get(arm.arm.key),
                results.elasticity,
            )
            for arm in results.arms
        )
    return rows
