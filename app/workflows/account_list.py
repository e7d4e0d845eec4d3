"""Extract the accounts of a scenario's uploaded list (the steps of
app/workflows/csv_import.py, over CSV or XLSX): `validate` reports row errors (an empty or
repeated id, an empty name, a record of the wrong width), `write` replaces the scenario's
accounts with the valid rows, `finish` records the count on the list.

`write` first removes the scenario's accounts, so it can run again after a crash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from app.models.base import ENCODER, utcnow
from app.models.scoring import AccountList, AccountScore, ScenarioStatus, ScoringScenario
from app.resolvers import scoring
from app.resolvers.account_list import AccountRows, header_of, records
from app.workflows.base import StepContext
from app.workflows.csv_import import CsvImport, Rows, progress

BATCH = 5000


async def _scenario(step: StepContext) -> tuple[ScoringScenario, AccountList]:
    found = await step.ctx.scope.require(ScoringScenario, step.run.parameters["scenarioId"])
    if found.account_list is None:  # uploads wait for the run, so this is a bug
        raise RuntimeError(f"scenario {found.id} has no account list")
    return found, found.account_list


async def rows(step: StepContext) -> Rows[dict[str, Any]]:
    _, account_list = await _scenario(step)
    parser = AccountRows(account_list)
    row = 0
    async for values in records(step.ctx.scope, account_list):
        row += 1
        if row == 1:
            header_of(values)  # as checked at upload
            continue
        parsed, errors = parser.parse(row, values)
        yield row, parsed, errors


async def write(step: StepContext, valid: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    found, _ = await _scenario(step)
    collection = AccountScore.get_pymongo_collection()
    await collection.delete_many(step.ctx.scope.filter({"scenario_id": found.id}))
    batch: list[dict[str, Any]] = []
    written = 0
    async for fields in valid:
        now = utcnow()
        account = AccountScore(
            tenant_id=step.ctx.tenant_id,
            scenario_id=found.id,
            created_at=now,
            updated_at=now,
            **fields,
        )
        batch.append(dict(ENCODER.encode(account.model_dump(exclude={"id"}))))
        if len(batch) == BATCH:
            await collection.insert_many(batch, ordered=False)
            written += len(batch)
            batch.clear()
            await progress(step, f"wrote {written} accounts")
    if batch:
        await collection.insert_many(batch, ordered=False)
        written += len(batch)
    return {"written": written}


async def finish_step(step: StepContext) -> dict[str, Any]:
    found, account_list = await _scenario(step)
    written = step.outputs["write"]["written"]
    changes = {
        "account_list": account_list.model_copy(update={"row_count": written}),
        "status": ScenarioStatus.PENDING,
        "calculated_at": None,
    }
    updated = await step.ctx.scope.update(found, changes)
    await scoring.announce(step.ctx, updated, "accounts", accounts=written)
    return {"accounts": written}


WORKFLOW = CsvImport(
    spec=scoring.ACCOUNT_LIST_RUN,
    rows=rows,
    write=write,
    then={"finish": finish_step},
).workflow()
