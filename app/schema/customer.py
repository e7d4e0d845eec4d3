"""Customer records in the API: bulk import from CSV (GraphQL multipart request spec)."""

from __future__ import annotations

import strawberry

from app.resolvers.customer_import import WORKFLOW_NAME
from app.schema.upload import import_mutation


@strawberry.type
class CustomerMutation:
    import_customers = import_mutation(
        WORKFLOW_NAME,
        "Import customers from a CSV file (multipart upload) as a run: its `validate` step "
        "reports row errors, `write` the rows written; metrics follow.",
    )
