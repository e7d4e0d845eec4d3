"""Customer records in the API: bulk import from CSV (GraphQL multipart request spec)."""

from __future__ import annotations

from enum import Enum

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from app.errors import ValidationFailed
from app.resolvers import customer_import as use_case
from app.schema.context import Info
from app.schema.fields import mutation
from app.schema.run import Run, StartRunResult


@strawberry.enum
class ImportMode(Enum):
    KEEP_VALID = "keep_valid"
    ALL_OR_NOTHING = "all_or_nothing"


@strawberry.type
class CustomerMutation:
    @mutation(
        description="Import customers from a CSV file (multipart upload) as a run: its "
        "`validate` step reports row errors, `write` the rows written; metrics follow."
    )
    async def import_customers(
        self,
        info: Info,
        product_id: strawberry.ID,
        file: Upload,
        mode: ImportMode = ImportMode.KEEP_VALID,
    ) -> StartRunResult:
        if not isinstance(file, UploadFile):  # a plain value where the file part belongs
            raise ValidationFailed.single("file", "must be a file part of a multipart request")
        upload = file
        try:
            run = await use_case.start_import(
                info.context.ctx, product_id, upload.read, use_case.ImportMode(mode.value)
            )
        finally:
            await upload.close()  # the spooled temporary file, now copied into MongoDB
        return Run.from_model(run)
