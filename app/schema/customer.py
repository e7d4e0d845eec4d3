"""Customer records in the API: the records a segment selects (a preview before saving a
filter), and bulk import from CSV (GraphQL multipart request spec)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from app import models
from app.resolvers import customer as use_case
from app.resolvers.customer_import import IMPORT_RUN, OPTIONAL, REQUIRED
from app.schema.context import Info
from app.schema.fields import query
from app.schema.money import Cents
from app.schema.pagination import Connection, connection
from app.schema.related import plan_of
from app.schema.segment import FILTER_LANGUAGE, SQL_WHERE
from app.schema.upload import import_mutation

if TYPE_CHECKING:
    from app.schema.plan import PricingPlan

IMPORT_COLUMNS = (
    "Columns (a header row names them, in any order): "
    + ", ".join(f"`{name}`" for name in REQUIRED)
    + " required; "
    + ", ".join(f"`{name}`" for name in OPTIONAL)
    + " optional; `attributes.<key>` columns fill `attributes` (key as in the segment filter "
    "language). `plan_id` is a plan's id or name (a name two plans share must be the id); "
    "`monthly_revenue_cents` a whole number of cents, 0 or more; `usage` a number, 0 or more; "
    "`signup_at` and `churned_at` ISO 8601 dates or date-times (UTC unless stated), churn not "
    "before signup."
)


@strawberry.type(description="A customer record: what segments select and metrics count.")
class Customer:
    id: strawberry.ID
    product_id: strawberry.ID
    external_id: str = strawberry.field(description="The customer's id in the tenant's systems.")
    plan_id: strawberry.ID | None
    region: str
    company_size: str
    monthly_revenue_cents: Cents
    usage: float
    signup_at: datetime
    churned_at: datetime | None
    active: bool = strawberry.field(description="Not churned.")
    attributes: JSON

    @strawberry.field
    def plan(self, info: Info) -> Annotated[PricingPlan, strawberry.lazy("app.schema.plan")] | None:
        return plan_of(info, self.plan_id, None) if self.plan_id else None

    @classmethod
    def from_model(cls, doc: models.Customer) -> Customer:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            external_id=doc.external_id,
            plan_id=strawberry.ID(str(doc.plan_id)) if doc.plan_id else None,
            region=doc.region,
            company_size=doc.company_size,
            monthly_revenue_cents=doc.monthly_revenue_cents,
            usage=doc.usage,
            signup_at=doc.signup_at,
            churned_at=doc.churned_at,
            active=doc.churned_at is None,
            attributes=cast(JSON, doc.attributes),
        )


@strawberry.type
class CustomerQuery:
    @query(
        description="Customer records, in import order: of a product, of a segment, matching "
        "a filter, or all of these at once. Try a filter here before saving it as a segment."
    )
    async def customers(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        segment_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the customers this segment selects."),
        ] = None,
        filter: Annotated[JSON | None, strawberry.argument(description=FILTER_LANGUAGE)] = None,
        sql_where: Annotated[str | None, strawberry.argument(description=SQL_WHERE)] = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Customer]:
        page = await use_case.list_customers(
            info.context.ctx, product_id, segment_id, cast(Any, filter), sql_where, (first, after)
        )
        return connection(page, Customer.from_model)


@strawberry.type
class CustomerMutation:
    import_customers = import_mutation(
        IMPORT_RUN,
        "Import customers from a CSV file (multipart upload) as a run: its `validate` step "
        "reports row errors, `write` the rows written; metrics follow. " + IMPORT_COLUMNS,
    )
