"""The run every CSV import shares: `validate` checks every row and reports row errors,
`write` writes the valid rows, then the import's own follow-up steps run. A file that
cannot be imported (its header is wrong, a record does not end, or a row is invalid in
ALL_OR_NOTHING mode) fails the run at `validate`, with the errors in its output and log.
However the run ends, the upload is dropped (app/resolvers/run.py's `release`).

An import brings its rows (parsed and checked, streamed from the upload) and its writer.
Each step can run again after a crash, so a writer must first undo or overwrite what an
earlier attempt of the same run wrote. Progress goes to the run's log, on the bus.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from app.models.base import parse_id
from app.models.run import LogLevel, OrchestrationRun, RunStep
from app.resolvers.ctx import ResolverCtx
from app.resolvers.run import WorkflowSpec
from app.resolvers.upload import (
    MAX_REPORTED_ERRORS,
    ImportMode,
    RowError,
    UnreadableFile,
    records,
)
from app.workflows.base import StepContext, StepFunction, StepRefused, Workflow

PROGRESS_EVERY = 20_000  # rows between two progress lines of the validate step
LOGGED_ERRORS = 20  # row errors also written to the log; all reported ones are in the output

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Rows = AsyncIterator[tuple[int, T | None, list[RowError]]]  # (row, parsed or None, errors)


class Parser(Protocol[T_co]):
    def parse(self, row: int, values: list[str]) -> tuple[T_co | None, list[RowError]]: ...


def upload_id(run: OrchestrationRun) -> Any:
    return parse_id(run.parameters["uploadId"])


async def parsed_rows(step: StepContext, parser_for: Callable[[list[str]], Parser[T]]) -> Rows[T]:
    """Every data row of the upload through the parser that `parser_for` makes from the
    header (it raises UnreadableFile when the header is unusable, as the reader does for a
    record that does not end)."""
    parser: Parser[T] | None = None
    row = 0
    async for values in records(step.ctx.scope, upload_id(step.run)):
        row += 1
        if parser is None:
            parser = parser_for(values)
            continue
        parsed, errors = parser.parse(row, values)
        yield row, parsed, errors


async def progress(step: StepContext, message: str) -> None:
    """A progress line on the run's log, and a chance to pause or stop the run."""
    await step.log(LogLevel.INFO, message)
    await step.checkpoint()


def row_line(error: dict[str, Any]) -> str:
    where = f"row {error['row']}" + (f", {error['column']}" if error["column"] else "")
    return f"{where}: {error['message']}"


@dataclass(frozen=True)
class CsvImport(Generic[T]):
    spec: WorkflowSpec
    rows: Callable[[StepContext], Rows[T]]  # every data row, parsed and checked
    write: Callable[[StepContext, AsyncIterator[T]], Awaitable[dict[str, Any]]]  # valid rows
    then: dict[str, StepFunction] = field(default_factory=dict)  # steps after `write`

    async def validate_step(self, step: StepContext) -> dict[str, Any]:
        valid = invalid = 0
        reported: list[dict[str, Any]] = []
        unreadable = False
        try:
            async for row, parsed, errors in self.rows(step):
                valid += parsed is not None
                invalid += parsed is None
                reported += [vars(e) for e in errors][: MAX_REPORTED_ERRORS - len(reported)]
                if row % PROGRESS_EVERY == 0:
                    await progress(step, f"validated {row} rows")
        except UnreadableFile as unreadable_at:  # nothing from this record on can be imported
            reported = [*reported[: MAX_REPORTED_ERRORS - 1], vars(unreadable_at.error)]
            invalid, unreadable = invalid + 1, True
        for error in reported[:LOGGED_ERRORS]:
            await step.log(LogLevel.WARN, row_line(error))
        all_or_nothing = step.run.parameters["mode"] == ImportMode.ALL_OR_NOTHING
        rejected = unreadable or (bool(invalid) and all_or_nothing)
        report = {"valid": valid, "invalid": invalid, "rejected": rejected, "errors": reported}
        summary = f"{valid} valid rows, {invalid} invalid rows"
        if rejected:
            first = row_line(reported[-1] if unreadable else reported[0])
            raise StepRefused(f"file rejected, nothing imported ({summary}); {first}", report)
        await step.log(LogLevel.WARN if invalid else LogLevel.INFO, summary)
        return report

    async def write_step(self, step: StepContext) -> dict[str, Any]:
        return await self.write(step, self._valid(step))

    async def _valid(self, step: StepContext) -> AsyncIterator[T]:
        async for _, parsed, _ in self.rows(step):
            if parsed is not None:
                yield parsed

    def workflow(self) -> Workflow:
        steps = {
            "validate": self.validate_step,
            "write": self.write_step,
            **self.then,
        }

        async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
            return [RunStep(name=kind, kind=kind, order=i) for i, kind in enumerate(steps)]

        return Workflow(spec=self.spec, plan=plan, steps=steps)
