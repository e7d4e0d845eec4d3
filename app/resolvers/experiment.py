"""Price experiments: create, edit, and move through their lifecycle.

draft -> running <-> paused -> completed; draft/running/paused -> cancelled;
completed/cancelled -> retired. Anything else is a Conflict that changes nothing.

While the experiment runs or is paused, each target segment has the same lifecycle of
its own (pause, resume, stop, retire): the experiment can stop for one segment and go
on for the others. When every target segment has stopped, the experiment completes.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId

from app.analytics import sample_size_proportion
from app.bus import Event
from app.errors import Conflict, FieldIssue, ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product
from app.models.base import parse_id, utcnow
from app.models.experiment import (
    SEGMENT_FINAL,
    Experiment,
    ExperimentArm,
    ExperimentGoal,
    ExperimentStatus,
    Guardrail,
    PrimaryMetric,
    SegmentState,
)
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page

TOPIC = "experiments"
S = ExperimentStatus
# action -> (statuses it applies to, status it leads to)
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "start": ({S.DRAFT}, S.RUNNING),
    "pause": ({S.RUNNING}, S.PAUSED),
    "resume": ({S.PAUSED}, S.RUNNING),
    "stop": ({S.RUNNING, S.PAUSED}, S.COMPLETED),
    "cancel": ({S.DRAFT, S.RUNNING, S.PAUSED}, S.CANCELLED),
    "retire": ({S.COMPLETED, S.CANCELLED}, S.RETIRED),
}
# The seed's per-segment actions; their rules are those of TRANSITIONS.
SEGMENT_ACTIONS = ("pause", "resume", "stop", "retire")
ACCEPTS_EVENTS = {S.RUNNING, S.PAUSED}
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_ARMS = 10
SHARE_TOLERANCE = 1e-6


@dataclass
class ArmSpec:
    key: str
    plan_id: str
    price_cents: int
    traffic_share: float
    control: bool = False


@dataclass
class ExperimentSpec:
    """Everything a client can set; None means "keep" on update, "default" on create."""

    name: str | None = None
    key: str | None = None
    product_id: str | None = None
    hypothesis: str | None = None
    goal: ExperimentGoal | None = None
    target_segment_ids: list[str] | None = None
    arms: list[ArmSpec] | None = None
    rollout: float | None = None
    primary_metric: PrimaryMetric | None = None
    guardrails: list[Guardrail] | None = None
    minimum_detectable_effect: float | None = None
    alpha: float | None = None
    power: float | None = None
    baseline_conversion_rate: float | None = None
    planned_sample_size_per_arm: int | None = None
    issues: list[FieldIssue] = field(default_factory=list)


def _issue(spec: ExperimentSpec, path: str, message: str) -> None:
    spec.issues.append(FieldIssue(("input", *path.split(".")), message))


def _check_arms(spec: ExperimentSpec, arms: list[ArmSpec]) -> None:
    if not 2 <= len(arms) <= MAX_ARMS:
        _issue(spec, "arms", f"need 2 to {MAX_ARMS} arms")
    if sum(arm.control for arm in arms) != 1:
        _issue(spec, "arms", "exactly one arm must be the control")
    if len({arm.key for arm in arms}) != len(arms):
        _issue(spec, "arms", "arm keys must be unique")
    if not math.isclose(sum(arm.traffic_share for arm in arms), 1.0, abs_tol=SHARE_TOLERANCE):
        _issue(spec, "arms", "traffic shares must sum to 1")
    for i, arm in enumerate(arms):
        if not KEY_PATTERN.match(arm.key):
            _issue(spec, f"arms.{i}.key", "use 1-64 lowercase letters, digits, - _ .")
        if arm.price_cents <= 0:
            _issue(spec, f"arms.{i}.priceCents", "must be positive")
        if not 0.0 < arm.traffic_share <= 1.0:
            _issue(spec, f"arms.{i}.trafficShare", "must lie in (0, 1]")


def _check_numbers(spec: ExperimentSpec) -> None:
    checks: list[tuple[str, float | None, float, float, bool]] = [
        # path, value, low, high, low-inclusive
        ("rollout", spec.rollout, 0.0, 1.0, True),
        ("minimumDetectableEffect", spec.minimum_detectable_effect, 0.0, 10.0, False),
        ("alpha", spec.alpha, 0.0, 0.5, False),
        ("power", spec.power, 0.5, 0.999, True),
        ("baselineConversionRate", spec.baseline_conversion_rate, 0.0, 0.99, False),
    ]
    for path, value, low, high, inclusive in checks:
        if value is None:
            continue
        above = value >= low if inclusive else value > low
        if not (above and value <= high) or math.isnan(value):
            _issue(spec, path, f"must lie in {'[' if inclusive else '('}{low}, {high}]")
    if spec.planned_sample_size_per_arm is not None and spec.planned_sample_size_per_arm < 2:
        _issue(spec, "plannedSampleSizePerArm", "must be at least 2")
    for i, guardrail in enumerate(spec.guardrails or []):
        if not 0.0 <= guardrail.max_increase <= 1.0:
            _issue(spec, f"guardrails.{i}.maxIncrease", "must lie in [0, 1]")


def _check_text(spec: ExperimentSpec) -> None:
    if spec.name is not None and not 1 <= len(spec.name.strip()) <= 200:
        _issue(spec, "name", "must be 1 to 200 characters")
    if spec.hypothesis is not None and len(spec.hypothesis) > 5000:
        _issue(spec, "hypothesis", "must be at most 5000 characters")
    if spec.key is not None and not KEY_PATTERN.match(spec.key):
        _issue(spec, "key", "use 1-64 lowercase letters, digits, - _ .")


async def _resolve_arms(ctx: ResolverCtx, spec: ExperimentSpec, product_id: Any) -> list[Any]:
    """Arms with plans of the experiment's product; issues for unknown plans."""
    arms = []
    for i, arm in enumerate(spec.arms or []):
        plan = await ctx.scope.get(PricingPlan, arm.plan_id)
        if plan is None or plan.product_id != product_id:
            _issue(spec, f"arms.{i}.planId", "no such plan of this product")
            continue
        arms.append(
            ExperimentArm(
                key=arm.key,
                plan_id=plan.id,
                price_cents=arm.price_cents,
                traffic_share=arm.traffic_share,
                control=arm.control,
            )
        )
    return arms


def planned_sample_size(doc: Experiment) -> int:
    """Per-arm units to detect the MDE on conversion (normal approximation, Holm-safe alpha)."""
    baseline = doc.baseline_conversion_rate
    mde = min(doc.minimum_detectable_effect, 0.99 / baseline - 1.0)
    plan = sample_size_proportion(baseline, mde, doc.alpha, doc.power, len(doc.arms))
    return plan.n_per_arm


async def _validated(
    ctx: ResolverCtx, spec: ExperimentSpec, current: Experiment | None
) -> dict[str, Any]:
    """The changes the spec makes, validated as a whole; raises before anything is written."""
    _check_text(spec)
    _check_numbers(spec)
    if spec.arms is not None:
        _check_arms(spec, spec.arms)
    changes = _plain_changes(spec)
    product_id = current.product_id if current else await _product(ctx, spec)
    if spec.arms is not None:
        changes["arms"] = await _resolve_arms(ctx, spec, product_id)
    if spec.target_segment_ids is not None:
        changes["target_segment_ids"] = await _resolve_segments(ctx, spec, product_id)
    if spec.issues:
        raise ValidationFailed(spec.issues)
    return changes


async def _resolve_segments(
    ctx: ResolverCtx, spec: ExperimentSpec, product_id: Any
) -> list[ObjectId]:
    """Target segments: existing segments of the experiment's product, each listed once."""
    given = spec.target_segment_ids or []
    paths = [f"targetSegmentIds.{i}" for i in range(len(given))]
    ids = [_oid(spec, path, s) for path, s in zip(paths, given, strict=True)]
    found = await ctx.scope.get_many(CustomerSegment, [i for i in ids if i is not None])
    seen: set[ObjectId] = set()
    for path, oid in zip(paths, ids, strict=True):
        if oid is None:
            continue
        segment = found.get(oid)
        if segment is None:
            _issue(spec, path, "no such segment")
        elif product_id is not None and segment.product_id != product_id:
            _issue(spec, path, "the segment belongs to another product")
        elif oid in seen:
            _issue(spec, path, "listed twice")
        seen.add(oid)
    return [oid for oid in ids if oid is not None]


def _oid(spec: ExperimentSpec, path: str, value: str) -> ObjectId | None:
    oid = parse_id(value)
    if oid is None:
        _issue(spec, path, "not an id")
    return oid


async def _product(ctx: ResolverCtx, spec: ExperimentSpec) -> Any:
    product = await ctx.scope.get(Product, spec.product_id) if spec.product_id else None
    if product is None:
        _issue(spec, "productId", "no such product")
        return None
    return product.id


def _plain_changes(spec: ExperimentSpec) -> dict[str, Any]:
    names = [
        "name",
        "hypothesis",
        "goal",
        "rollout",
        "primary_metric",
        "guardrails",
        "minimum_detectable_effect",
        "alpha",
        "power",
        "baseline_conversion_rate",
        "planned_sample_size_per_arm",
        "key",
    ]
    changes = {name: getattr(spec, name) for name in names if getattr(spec, name) is not None}
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    return changes


async def create(ctx: ResolverCtx, spec: ExperimentSpec) -> Experiment:
    if spec.name is None or spec.arms is None:
        raise ValidationFailed.single("input", "name and arms are required")
    changes = await _validated(ctx, spec, None)
    key = changes.pop("key", None) or _slug(changes["name"])
    if await ctx.scope.find(Experiment, {"key": key}).count():
        raise Conflict(f"an experiment with key {key!r} already exists")
    doc = Experiment(
        tenant_id=ctx.tenant_id, product_id=PydanticObjectId(spec.product_id), key=key, **changes
    )
    if spec.planned_sample_size_per_arm is None:
        doc.planned_sample_size_per_arm = planned_sample_size(doc)
    doc = await ctx.scope.insert(doc)
    ctx.audit.record("Experiment", doc.id, after=doc)
    await ctx.publish(TOPIC, "experimentCreated", event_data(doc))
    return doc


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48] or "experiment"
    return f"{slug}-{PydanticObjectId()!s}"[:64]


async def update(ctx: ResolverCtx, experiment_id: str, spec: ExperimentSpec) -> Experiment:
    """Name, hypothesis, goal, segments and rollout any time before the end; the design
    (arms, metric, alpha, ...) only in draft, since changing it would void the analysis."""
    doc = await ctx.scope.require(Experiment, experiment_id)
    if doc.status not in (S.DRAFT, S.RUNNING, S.PAUSED):
        raise Conflict(f"the experiment is {doc.status}; it can no longer change")
    changes = await _validated(ctx, spec, doc)
    changes.pop("key", None)
    design = set(changes) - {"name", "hypothesis", "goal", "target_segment_ids", "rollout"}
    if design and doc.status != S.DRAFT:
        raise Conflict(f"{', '.join(sorted(design))} can change only in draft")
    if doc.status == S.DRAFT and spec.planned_sample_size_per_arm is None:
        changes["planned_sample_size_per_arm"] = planned_sample_size(doc.model_copy(update=changes))
    if "target_segment_ids" in changes:  # a segment no longer targeted forgets its state
        targets = set(changes["target_segment_ids"])
        changes["segment_states"] = [s for s in doc.segment_states if s.segment_id in targets]
    updated = await ctx.scope.update(doc, _storable(changes))
    ctx.audit.record("Experiment", doc.id, doc, updated)
    await ctx.publish(TOPIC, "experimentUpdated", event_data(updated))
    return updated


def _storable(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        name: [v.model_dump() for v in value]
        if name in ("arms", "guardrails", "segment_states")
        else value
        for name, value in changes.items()
    }


async def act(
    ctx: ResolverCtx,
    experiment_id: str,
    action: str,
    segment_id: str | None = None,
    reason: str | None = None,
) -> Experiment:
    """The seed's actions on the whole experiment, or on one target segment of it."""
    if reason is not None and len(reason) > 500:
        raise ValidationFailed.single("reason", "must be at most 500 characters")
    doc = await ctx.scope.require(Experiment, experiment_id)
    if segment_id is not None:
        return await segment_transition(ctx, doc, action, segment_id, reason)
    default = "stopped by a user" if action == "stop" else None
    return await transition(ctx, doc, action, reason or default)


async def transition(
    ctx: ResolverCtx, doc: Experiment, action: str, reason: str | None = None
) -> Experiment:
    """Apply a lifecycle action (the engine's automatic stop too); Conflict if illegal."""
    allowed, target = TRANSITIONS[action]
    if doc.status not in allowed:
        raise Conflict(f"the experiment is {doc.status}; it cannot {action}")
    changes: dict[str, Any] = {"status": target}
    if action == "start":
        changes["started_at"] = utcnow()
    if target in (S.COMPLETED, S.CANCELLED):
        changes.update(stopped_at=utcnow(), stop_reason=reason or f"{action} by a user")
    updated = await ctx.scope.update(doc, changes)
    ctx.audit.record("Experiment", doc.id, doc, updated)
    await ctx.publish(TOPIC, "experimentUpdated", event_data(updated))
    return updated


async def segment_transition(
    ctx: ResolverCtx, doc: Experiment, action: str, segment_id: str, reason: str | None
) -> Experiment:
    """Apply a lifecycle action to one target segment; the experiment completes when no
    target segment is left running or paused. Conflict if illegal, nothing written."""
    if action not in SEGMENT_ACTIONS:
        raise ValidationFailed.single("action", f"per segment: {', '.join(SEGMENT_ACTIONS)}")
    segment = _target(doc, segment_id)
    if doc.status not in ACCEPTS_EVENTS:
        raise Conflict(f"the experiment is {doc.status}; segments change only while it runs")
    allowed, target = TRANSITIONS[action]
    own = doc.own_segment_status(segment)
    if own not in allowed:
        raise Conflict(f"the experiment is {own} for segment {segment}; it cannot {action}")
    state = SegmentState(
        segment_id=segment,
        status=target,
        changed_at=utcnow(),
        changed_by=ctx.principal.label,
        reason=reason or f"{action} by a user",
    )
    states = [s for s in doc.segment_states if s.segment_id != segment] + [state]
    changes: dict[str, Any] = {"segment_states": states}
    after = doc.model_copy(update=changes)
    if all(after.own_segment_status(s) in SEGMENT_FINAL for s in doc.target_segment_ids):
        changes.update(
            status=S.COMPLETED, stopped_at=utcnow(), stop_reason="every target segment stopped"
        )
    updated = await ctx.scope.update(doc, _storable(changes))
    ctx.audit.record("Experiment", doc.id, doc, updated)
    data = event_data(updated) | {"segmentId": str(segment), "segmentStatus": target}
    await ctx.publish(TOPIC, "experimentUpdated", data)
    return updated


def _target(doc: Experiment, segment_id: str) -> PydanticObjectId:
    oid = parse_id(segment_id)
    if oid is None or oid not in doc.target_segment_ids:
        raise ValidationFailed.single("segmentId", "not a target segment of this experiment")
    return PydanticObjectId(oid)


async def delete(ctx: ResolverCtx, experiment_id: str) -> Experiment:
    doc = await ctx.scope.require(Experiment, experiment_id)
    if doc.status != S.DRAFT:
        raise Conflict(f"only a draft can be deleted; this one is {doc.status} (retire it)")
    await ctx.scope.delete(Experiment, experiment_id)
    ctx.audit.record("Experiment", doc.id, before=doc)
    await ctx.publish(TOPIC, "experimentDeleted", event_data(doc))
    return doc


def event_data(doc: Experiment) -> dict[str, Any]:
    return {
        "experimentId": str(doc.id),
        "status": str(doc.status),
        "stopReason": doc.stop_reason,
    }


async def follow(
    ctx: ResolverCtx, experiment_id: str, since: str | None
) -> AsyncGenerator[Event, None]:
    """Lifecycle changes and recomputations of one experiment."""
    await ctx.scope.require(Experiment, experiment_id)
    return ctx.follow(TOPIC, since, lambda event: event.data.get("experimentId") == experiment_id)


async def list_experiments(
    ctx: ResolverCtx, product_id: str | None, status: ExperimentStatus | None, page: PageArgs
) -> Page[Experiment]:
    filters: dict[str, Any] = {}
    if product_id is not None:
        filters["product_id"] = parse_id(product_id)
    if status is not None:
        filters["status"] = status.value
    return await find_page(ctx.scope, Experiment, filters, page)


async def get_experiment(ctx: ResolverCtx, experiment_id: str) -> Experiment | None:
    return await ctx.scope.get(Experiment, experiment_id)
