"""Account scoring (the scoring seed's /api/scoring-scenarios endpoints): scenarios, their
criteria, the scored accounts and analysts' overrides, and the scoring events.

Scenarios are archived, never deleted. The runs that extract an account list and calculate
the scores are declared here (`ACCOUNT_LIST_RUN`, `CALCULATION_RUN`); the file handling is
in app/resolvers/account_list.py and the calculation in app/resolvers/scoring_calc.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from beanie import PydanticObjectId, SortDirection

from app.analytics import scoring as maths
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import CustomerSegment, Product
from app.models.base import parse_id, utcnow
from app.models.run import FINAL_STATUSES, OrchestrationRun, WorkflowType
from app.models.scoring import (
    AccountScore,
    CriterionScore,
    ModelSpec,
    Rule,
    RuleKind,
    ScenarioStatus,
    ScoringCriterion,
    ScoringMethod,
    ScoringScenario,
    TierBand,
)
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import MAX_PAGE, Page, PageArgs, find_page
from app.resolvers.run import WorkflowSpec

TOPIC = "scoring"
NAME_MAX = 200
TEXT_MAX = 2000
MAX_WEIGHT = 100
MAX_CRITERIA = 50
MAX_RULE_VALUES = 1000
MAX_FEATURES = 50
TOP_CONTRIBUTIONS = 3


def _validate_scenario_parameters(parameters: dict[str, Any]) -> None:
    if not parse_id(str(parameters.get("scenarioId", ""))):
        raise ValidationFailed.single("scenarioId", "must be a scoring scenario id")


ACCOUNT_LIST_RUN = WorkflowSpec(
    "account_list",
    WorkflowType.SCORING,
    "Extract the accounts of an uploaded account list",
    _validate_scenario_parameters,
)
CALCULATION_RUN = WorkflowSpec(
    "scoring_calculation",
    WorkflowType.SCORING,
    "Score every account of a scenario against its criteria",
    _validate_scenario_parameters,
)


# --- scenarios --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioFields:
    name: str | None = None
    description: str | None = None
    product_id: str | None = None
    segment_id: str | None = None
    tiers: list[TierBand] | None = None


def _text(path: str, value: str, limit: int, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise ValidationFailed.single(path, "is required")
    if len(text) > limit:
        raise ValidationFailed.single(path, f"at most {limit} characters")
    return text


def _tiers(tiers: list[TierBand]) -> list[TierBand]:
    """Tiers from the best down, each with a lower bound; the last must take every total."""
    if not 1 <= len(tiers) <= 10:
        raise ValidationFailed.single("input.tiers", "1 to 10 tiers")
    mins = [t.min_score for t in tiers]
    if any(not 0 <= m <= 100 for m in mins) or mins != sorted(set(mins), reverse=True):
        raise ValidationFailed.single(
            "input.tiers", "lower bounds 0-100, strictly decreasing from the first tier"
        )
    if mins[-1] != 0:
        raise ValidationFailed.single("input.tiers", "the last tier must start at 0")
    names = [_text("input.tiers.name", t.name, 20, required=True) for t in tiers]
    if len(set(names)) != len(names):
        raise ValidationFailed.single("input.tiers", "tier names must differ")
    return [TierBand(name=n, min_score=m) for n, m in zip(names, mins, strict=True)]


async def _changes(ctx: ResolverCtx, fields: ScenarioFields) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if fields.name is not None:
        changes["name"] = _text("input.name", fields.name, NAME_MAX, required=True)
    if fields.description is not None:
        changes["description"] = _text("input.description", fields.description, TEXT_MAX)
    if fields.product_id is not None:
        changes["product_id"] = (await ctx.scope.require(Product, fields.product_id)).id
    if fields.segment_id is not None:
        changes["segment_id"] = (await ctx.scope.require(CustomerSegment, fields.segment_id)).id
    if fields.tiers is not None:
        changes["tiers"] = _tiers(fields.tiers)
    return changes


async def create_scenario(ctx: ResolverCtx, fields: ScenarioFields) -> ScoringScenario:
    if fields.name is None:
        raise ValidationFailed.single("input.name", "is required")
    changes = await _changes(ctx, fields)
    scenario = await ctx.scope.insert(
        ScoringScenario(tenant_id=ctx.tenant_id, created_by=ctx.principal.label, **changes)
    )
    ctx.audit.record("ScoringScenario", scenario.id, after=scenario)
    return scenario


async def scenario(ctx: ResolverCtx, scenario_id: str) -> ScoringScenario:
    return await ctx.scope.require(ScoringScenario, scenario_id)


async def scenario_or_none(ctx: ResolverCtx, scenario_id: str) -> ScoringScenario | None:
    return await ctx.scope.get(ScoringScenario, scenario_id)


async def open_scenario(ctx: ResolverCtx, scenario_id: str) -> ScoringScenario:
    """A scenario that may still change: not archived."""
    found = await scenario(ctx, scenario_id)
    if found.archived:
        raise Conflict(f"scoring scenario {found.id} is archived")
    return found


async def update_scenario(
    ctx: ResolverCtx, scenario_id: str, fields: ScenarioFields
) -> ScoringScenario:
    found = await open_scenario(ctx, scenario_id)
    updated = await ctx.scope.update(found, await _changes(ctx, fields))
    ctx.audit.record("ScoringScenario", found.id, found, updated)
    await announce(ctx, updated, "updated")
    return updated


async def archive_scenario(ctx: ResolverCtx, scenario_id: str) -> ScoringScenario:
    found = await open_scenario(ctx, scenario_id)
    if await busy(ctx, found):
        raise Conflict("the scenario is being processed; archive it when its run has ended")
    updated = await ctx.scope.update(found, {"archived": True})
    ctx.audit.record("ScoringScenario", found.id, found, updated)
    await announce(ctx, updated, "archived")
    return updated


async def busy(ctx: ResolverCtx, found: ScoringScenario) -> bool:
    """Whether the scenario's last run is still going."""
    run = await ctx.scope.get(OrchestrationRun, found.active_run_id or "")
    return run is not None and run.status not in FINAL_STATUSES


async def status_of(ctx: ResolverCtx, found: ScoringScenario) -> ScenarioStatus:
    """PROCESSING until the run's last step says otherwise: a run that ended before it
    (refused, failed or stopped) leaves the scenario FAILED."""
    if found.status == ScenarioStatus.PROCESSING and not await busy(ctx, found):
        return ScenarioStatus.FAILED
    return found.status


async def scenarios(
    ctx: ResolverCtx, include_archived: bool, page: PageArgs
) -> Page[ScoringScenario]:
    query = {} if include_archived else {"archived": False}
    return await find_page(ctx.scope, ScoringScenario, query, page)


# --- criteria ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionFields:
    name: str
    method: ScoringMethod
    description: str = ""
    weight: int = 1
    rule: Rule | None = None
    model: ModelSpec | None = None


def _score(path: str, value: int) -> int:
    if not 0 <= value <= maths.MAX_SCORE:
        raise ValidationFailed.single(path, f"a score from 0 to {maths.MAX_SCORE}")
    return value


def _rule(rule: Rule | None) -> Rule:
    if rule is None:
        raise ValidationFailed.single("input.rule", "a RULE criterion needs a rule")
    _text("input.rule.column", rule.column, NAME_MAX, required=True)
    _score("input.rule.defaultScore", rule.default_score)
    if rule.kind == RuleKind.BANDS:
        mins = [b.min for b in rule.bands]
        if not rule.bands or len(set(mins)) != len(mins) or not all(map(math.isfinite, mins)):
            raise ValidationFailed.single("input.rule.bands", "distinct finite lower bounds")
        for band in rule.bands:
            _score("input.rule.bands.score", band.score)
        return rule.model_copy(update={"bands": sorted(rule.bands, key=lambda b: b.min)})
    if rule.kind == RuleKind.LINEAR:
        low, high = rule.low, rule.high
        if low is None or high is None or not math.isfinite(low) or not math.isfinite(high):
            raise ValidationFailed.single("input.rule", "LINEAR needs finite low and high")
        if low == high:
            raise ValidationFailed.single("input.rule.high", "must differ from low")
        return rule
    if not 1 <= len(rule.values) <= MAX_RULE_VALUES:
        raise ValidationFailed.single("input.rule.values", f"1 to {MAX_RULE_VALUES} values")
    for item in rule.values:
        _text("input.rule.values.value", item.value, NAME_MAX, required=True)
        _score("input.rule.values.score", item.score)
    return rule


def _model(spec: ModelSpec | None) -> ModelSpec:
    if spec is None:
        raise ValidationFailed.single("input.model", "a MODEL criterion needs a model")
    outcome = _text("input.model.outcomeColumn", spec.outcome_column, NAME_MAX, required=True)
    features = [_text("input.model.featureColumns", c, NAME_MAX) for c in spec.feature_columns]
    if not 1 <= len(features) <= MAX_FEATURES or "" in features:
        raise ValidationFailed.single("input.model.featureColumns", f"1 to {MAX_FEATURES} columns")
    if outcome in features:
        raise ValidationFailed.single("input.model.featureColumns", "must not hold the outcome")
    return ModelSpec(outcome_column=outcome, feature_columns=features)


def _criterion_changes(fields: CriterionFields) -> dict[str, Any]:
    if not 1 <= fields.weight <= MAX_WEIGHT:
        raise ValidationFailed.single("input.weight", f"from 1 to {MAX_WEIGHT}")
    description = _text("input.description", fields.description, TEXT_MAX)
    if fields.method == ScoringMethod.AI and not description:
        raise ValidationFailed.single("input.description", "the model scores by it: required")
    return {
        "name": _text("input.name", fields.name, NAME_MAX, required=True),
        "description": description,
        "weight": fields.weight,
        "method": fields.method,
        "rule": _rule(fields.rule) if fields.method == ScoringMethod.RULE else None,
        "model": _model(fields.model) if fields.method == ScoringMethod.MODEL else None,
        "fit": None,
    }


def check_columns(criterion: ScoringCriterion, columns: list[str]) -> None:
    """The columns a criterion reads must be the account list's."""
    wanted = [criterion.rule.column] if criterion.rule else []
    if criterion.model:
        wanted += [criterion.model.outcome_column, *criterion.model.feature_columns]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ValidationFailed.single(
            "input", f"criterion '{criterion.name}': no column {', '.join(missing)} in the list"
        )


async def criteria_of(ctx: ResolverCtx, scenario_id: Any) -> list[ScoringCriterion]:
    query = {"scenario_id": parse_id(str(scenario_id))}
    return await ctx.scope.find(ScoringCriterion, query).sort("_id").to_list()


async def add_criterion(
    ctx: ResolverCtx, scenario_id: str, fields: CriterionFields
) -> ScoringCriterion:
    found = await open_scenario(ctx, scenario_id)
    if len(await criteria_of(ctx, found.id)) >= MAX_CRITERIA:
        raise ValidationFailed.single("scenarioId", f"at most {MAX_CRITERIA} criteria")
    criterion = ScoringCriterion(
        tenant_id=ctx.tenant_id, scenario_id=found.id, **_criterion_changes(fields)
    )
    if found.account_list is not None:
        check_columns(criterion, found.account_list.columns)
    stored = await ctx.scope.insert(criterion)
    ctx.audit.record("ScoringCriterion", stored.id, after=stored)
    await announce(ctx, found, "criteria")
    return stored


async def _open_criterion(ctx: ResolverCtx, criterion_id: str) -> ScoringCriterion:
    criterion = await ctx.scope.require(ScoringCriterion, criterion_id)
    await open_scenario(ctx, str(criterion.scenario_id))
    return criterion


async def update_criterion(
    ctx: ResolverCtx, criterion_id: str, fields: CriterionFields
) -> ScoringCriterion:
    criterion = await _open_criterion(ctx, criterion_id)
    changes = _criterion_changes(fields)
    found = await scenario(ctx, str(criterion.scenario_id))
    if found.account_list is not None:
        check_columns(criterion.model_copy(update=changes), found.account_list.columns)
    updated = await ctx.scope.update(criterion, changes)
    ctx.audit.record("ScoringCriterion", criterion.id, criterion, updated)
    await announce(ctx, found, "criteria")
    return updated


async def remove_criterion(ctx: ResolverCtx, criterion_id: str) -> ScoringCriterion:
    """The criterion and its scores go; totals change at the next calculation."""
    criterion = await _open_criterion(ctx, criterion_id)
    await ctx.scope.delete(ScoringCriterion, criterion.id or "")
    await AccountScore.get_pymongo_collection().update_many(
        ctx.scope.filter({"scenario_id": criterion.scenario_id}),
        {"$pull": {"criterion_scores": {"criterion_id": criterion.id}}},
    )
    ctx.audit.record("ScoringCriterion", criterion.id, before=criterion)
    await announce(ctx, await scenario(ctx, str(criterion.scenario_id)), "criteria")
    return criterion


# --- scored accounts --------------------------------------------------------------------


class AccountOrder(StrEnum):
    TOTAL_DESC = "total_desc"
    TOTAL_ASC = "total_asc"
    TIER = "tier"  # best tier first, then the total, highest first
    ROW = "row"  # as in the file


UP, DOWN = SortDirection.ASCENDING, SortDirection.DESCENDING
SORTS: dict[AccountOrder, list[tuple[str, SortDirection]]] = {
    AccountOrder.TOTAL_DESC: [("total_score", DOWN), ("row", UP)],
    AccountOrder.TOTAL_ASC: [("total_score", UP), ("row", UP)],
    AccountOrder.TIER: [("tier_rank", UP), ("total_score", DOWN), ("row", UP)],
    AccountOrder.ROW: [("row", UP)],
}


@dataclass(frozen=True)
class AccountFilter:
    tiers: list[str] | None = None
    min_total: int | None = None
    max_total: int | None = None
    search: str | None = None  # a prefix of the account's id or name


def accounts_query(scenario_id: Any, where: AccountFilter) -> dict[str, Any]:
    query: dict[str, Any] = {"scenario_id": parse_id(str(scenario_id))}
    if where.tiers is not None:
        query["tier"] = {"$in": where.tiers}
    bounds = {}
    if where.min_total is not None:
        bounds["$gte"] = where.min_total
    if where.max_total is not None:
        bounds["$lte"] = where.max_total
    if bounds:
        query["total_score"] = bounds
    if where.search:
        prefix = {"$regex": "^" + re.escape(_text("filter.search", where.search, NAME_MAX))}
        query["$or"] = [{"account_id": prefix}, {"account_name": prefix}]
    return query


async def accounts_page(
    ctx: ResolverCtx, scenario_id: str, where: AccountFilter, order: AccountOrder, page: range
) -> tuple[list[AccountScore], int]:
    """The accounts at the positions of `page` in `order`, and how many match."""
    if not 0 <= len(page) <= MAX_PAGE:
        raise ValidationFailed.single("first", f"must be between 0 and {MAX_PAGE}")
    found = await scenario(ctx, scenario_id)
    query = accounts_query(found.id, where)
    docs = (
        await ctx.scope.find(AccountScore, query)
        .sort(SORTS[order])
        .skip(page.start)
        .limit(len(page))
        .to_list()
    )
    return docs, await ctx.scope.find(AccountScore, query).count()


# --- totals and overrides ---------------------------------------------------------------


def score_accounts(
    scores: np.ndarray, criteria: list[ScoringCriterion], tiers: list[TierBand]
) -> list[dict[str, Any]]:
    """Each account's total, tier and why (its top contributions), from (accounts,
    criteria) scores (NaN: not scored), criteria in the columns' order."""
    weights = np.array([c.weight for c in criteria], dtype=np.float64)
    computed = maths.totals(scores, weights)
    ranks = maths.tier_indices(computed.total, [t.min_score for t in tiers])
    positive, negative = maths.top_contributions(computed.contributions, TOP_CONTRIBUTIONS)
    ids = [c.id for c in criteria]

    def contributions(i: int, columns: list[int]) -> list[dict[str, Any]]:
        points = computed.contributions[i]
        return [{"criterion_id": ids[j], "points": float(points[j])} for j in columns]

    return [
        {
            "total_score": None if np.isnan(total) else int(total),
            "tier": tiers[ranks[i]].name if ranks[i] >= 0 else None,
            "tier_rank": int(ranks[i]) if ranks[i] >= 0 else None,
            "top_positive": contributions(i, positive[i]),
            "top_negative": contributions(i, negative[i]),
        }
        for i, total in enumerate(computed.total)
    ]


def score_matrix(
    entries: list[list[dict[str, Any]]], criteria: list[ScoringCriterion]
) -> np.ndarray:
    """(accounts, criteria) scores from each account's criterion scores; NaN for none."""
    column = {c.id: j for j, c in enumerate(criteria)}
    scores = np.full((len(entries), len(criteria)), np.nan)
    for i, account in enumerate(entries):
        for item in account:
            if item["criterion_id"] in column:
                scores[i, column[item["criterion_id"]]] = item["score"]
    return scores


async def override_score(
    ctx: ResolverCtx,
    scenario_id: str,
    account_id: str,
    criterion_id: str,
    score: int,
    notes: str,
) -> AccountScore:
    """An analyst's score for one account and criterion (the seed's PUT …/scores/:id):
    kept by re-calculation, audited, and published to the scenario's watchers."""
    found = await open_scenario(ctx, scenario_id)
    _score("score", score)
    notes = _text("notes", notes, TEXT_MAX)
    criteria = await criteria_of(ctx, found.id)
    criterion = next((c for c in criteria if str(c.id) == criterion_id), None)
    if criterion is None:
        raise NotFound(ScoringCriterion, criterion_id)
    query = {"scenario_id": found.id, "account_id": account_id}
    account = await ctx.scope.find(AccountScore, query).first_or_none()
    if account is None:
        raise NotFound("Account", account_id)
    kept = [s for s in account.criterion_scores if s.criterion_id != criterion.id]
    override = CriterionScore(
        criterion_id=criterion.id or PydanticObjectId(),
        score=score,
        notes=notes,
        method=criterion.method,
        overridden=True,
        by=ctx.principal.label,
    )
    entries = [s.model_dump() for s in (*kept, override)]
    scored = score_accounts(score_matrix([entries], criteria), criteria, found.tiers)[0]
    changes = {**scored, "criterion_scores": entries, "calculated_at": utcnow()}
    updated = await ctx.scope.update(account, changes)
    ctx.audit.record("AccountScore", account.id, account, updated)
    total = scored["total_score"]
    await announce(ctx, found, "override", accountId=account_id, totalScore=total)
    return updated


# --- events -----------------------------------------------------------------------------


async def announce(ctx: ResolverCtx, found: ScoringScenario, change: str, **data: Any) -> None:
    """`scoringScenarioUpdated`: what changed (updated, archived, criteria, accounts,
    scores, override) and the scenario's status."""
    payload = {"scenarioId": str(found.id), "change": change, "status": found.status.value}
    await ctx.publish(TOPIC, "scoringScenarioUpdated", {**payload, **data})


async def follow(ctx: ResolverCtx, scenario_id: str, since: str | None) -> Any:
    found = await scenario(ctx, scenario_id)
    return ctx.follow(TOPIC, since, lambda event: event.data.get("scenarioId") == str(found.id))
