"""Calculate a scenario's scores (app/resolvers/scoring_calc.py): `score` fits the MODEL
criteria, then scores the accounts in file order, a batch at a time, and `finish` marks the
scenario completed. Scoring an account again gives the same result, so an interrupted
`score` simply runs again.
"""

from __future__ import annotations

from typing import Any

from app.analytics.scoring import CannotFit
from app.models.base import utcnow
from app.models.run import LogLevel, OrchestrationRun, RunStep
from app.models.scoring import ScenarioStatus, ScoringScenario
from app.resolvers import scoring, scoring_calc
from app.resolvers.ctx import ResolverCtx
from app.workflows.base import StepContext, StepFunction, StepRefused, Workflow
from app.workflows.csv_import import progress

BATCH = 10_000
RETRIES = 5  # batches re-read because an analyst overrode one of their accounts meanwhile


async def _scenario(step: StepContext) -> ScoringScenario:
    return await step.ctx.scope.require(ScoringScenario, step.run.parameters["scenarioId"])


async def score_step(step: StepContext) -> dict[str, Any]:
    found = await _scenario(step)
    criteria = await scoring.criteria_of(step.ctx, found.id)
    try:
        models = await scoring_calc.fit_models(step.ctx, found, criteria, step.compute)
    except CannotFit as error:
        raise StepRefused(f"no model fitted: {error}", {"scored": 0}) from None
    for criterion_id, model in models.items():
        await step.log(
            LogLevel.INFO, f"model {criterion_id}: AUC {model.auc:.3f} on {model.accounts}"
        )
    scorer = scoring_calc.Scorer(step.ctx.scope, found, criteria, models)
    scored, last_row = 0, 0
    while docs := await scoring_calc.batch_after(step.ctx, found, last_row, BATCH):
        for _ in range(RETRIES):
            ai_scores = await scoring_calc.ai_scores(step.ctx, scorer, docs, step.run.id)
            updates = await step.compute(scorer.updates, docs, ai_scores)
            if not await scoring_calc.write_batch(step.ctx, updates):
                break
            docs = await scoring_calc.batch_after(step.ctx, found, last_row, len(docs))
        scored += len(docs)
        last_row = docs[-1]["row"]
        await progress(step, f"scored {scored} accounts")
    return {"scored": scored, "models": {str(k): round(m.auc, 4) for k, m in models.items()}}


async def finish_step(step: StepContext) -> dict[str, Any]:
    found = await _scenario(step)
    changes = {"status": ScenarioStatus.COMPLETED, "calculated_at": utcnow()}
    updated = await step.ctx.scope.update(found, changes)
    scored = step.outputs["score"]["scored"]
    await scoring.announce(step.ctx, updated, "scores", accounts=scored)
    return {"scored": scored}


STEPS: dict[str, StepFunction] = {"score": score_step, "finish": finish_step}


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    return [RunStep(name=kind, kind=kind, order=i) for i, kind in enumerate(STEPS)]


WORKFLOW = Workflow(spec=scoring.CALCULATION_RUN, plan=plan, steps=STEPS)
