"""CSV imports in the API: a file part of a multipart request (GraphQL multipart request
spec) started as an import run (app/resolvers/upload.py)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from app.errors import ValidationFailed
from app.resolvers import upload as use_case
from app.resolvers.run import WorkflowSpec
from app.schema.context import Info
from app.schema.fields import mutation
from app.schema.run import Run, StartRunResult


@strawberry.enum
class ImportMode(Enum):
    KEEP_VALID = "keep_valid"
    ALL_OR_NOTHING = "all_or_nothing"


def import_mutation(spec: WorkflowSpec, description: str) -> Any:
    """A root mutation that starts the import run `spec` on an uploaded CSV file."""

    async def start_import(
        self: Any,
        info: Info,
        product_id: strawberry.ID,
        file: Upload,
        mode: ImportMode = ImportMode.KEEP_VALID,
    ) -> StartRunResult:
        if not isinstance(file, UploadFile):  # a plain value where the file part belongs
            raise ValidationFailed.single("file", "must be a file part of a multipart request")
        try:
            run = await use_case.start_import(
                info.context.ctx, spec, product_id, file.read, use_case.ImportMode(mode.value)
            )
        finally:
            await file.close()  # the spooled temporary file, now copied into MongoDB
        return Run.from_model(run)

    return mutation(description=description)(start_import)
