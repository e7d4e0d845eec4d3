"""Customer value in the API: orders in batches, the tenant's BG/NBD + Gamma-Gamma fit, and
a customer's expected lifetime value with churn risk and a next best action."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.models.customer_value import CustomerValueModel as ModelDoc
from app.resolvers import customer_value as use_case
from app.schema.context import Info
from app.schema.errors import ValidationError
from app.schema.fields import mutation, query
from app.schema.money import Cents

NextBestAction = strawberry.enum(
    use_case.NextBestAction,
    name="NextBestAction",
    description="Chosen by stated rules: churn risk >= 0.5 -> WIN_BACK; no repeat order -> "
    "ENCOURAGE_REPEAT_PURCHASE; expected order value at least the tenant's mean -> UPSELL; "
    "otherwise NURTURE.",
)


@strawberry.type(
    description="A tenant's fitted purchase model (BG/NBD, Fader, Hardie & Lee 2005; time in "
    "days) and spend model (Gamma-Gamma; cents)."
)
class CustomerValueModel:
    id: strawberry.ID
    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    gamma: float
    customers: int
    repeat_customers: int
    fitted_at: datetime

    @classmethod
    def from_model(cls, doc: ModelDoc) -> CustomerValueModel:
        return cls(
            id=strawberry.ID(str(doc.id)),
            **{name: getattr(doc, name) for name in ("r", "alpha", "a", "b", "p", "q", "gamma")},
            customers=doc.customers,
            repeat_customers=doc.repeat_customers,
            fitted_at=doc.fitted_at,
        )


@strawberry.type(description="A customer's value over the next `horizonDays`.")
class CustomerValue:
    customer_id: strawberry.ID
    horizon_days: int
    current_value_cents: Cents = strawberry.field(description="Spent so far (all orders).")
    expected_lifetime_value_cents: Cents = strawberry.field(
        description="Expected purchases x expected order value over the horizon, undiscounted."
    )
    expected_purchases: float
    expected_order_value_cents: Cents
    probability_alive: float
    churn_risk: float = strawberry.field(description="1 - probabilityAlive.")
    value_drivers: list[str]
    risk_factors: list[str]
    next_best_action: NextBestAction  # type: ignore[valid-type]
    model: CustomerValueModel

    @classmethod
    def of(cls, value: use_case.CustomerValue) -> CustomerValue:
        return cls(
            customer_id=strawberry.ID(value.customer_id),
            horizon_days=value.horizon_days,
            current_value_cents=value.current_value_cents,
            expected_lifetime_value_cents=value.expected_lifetime_value_cents,
            expected_purchases=value.expected_purchases,
            expected_order_value_cents=value.expected_order_value_cents,
            probability_alive=value.probability_alive,
            churn_risk=value.churn_risk,
            value_drivers=value.value_drivers,
            risk_factors=value.risk_factors,
            next_best_action=value.next_best_action,
            model=CustomerValueModel.from_model(value.model),
        )


@strawberry.input
class OrderInput:
    order_id: str = strawberry.field(description="Recording the same id again is a no-op.")
    customer_id: strawberry.ID
    amount_cents: Cents
    at: datetime


@strawberry.type
class OrderReport:
    recorded: int
    duplicates: int


RecordOrdersResult = Annotated[
    OrderReport | ValidationError, strawberry.union("RecordOrdersResult")
]
FitResult = Annotated[
    CustomerValueModel | ValidationError, strawberry.union("FitCustomerValueModelResult")
]


@strawberry.type
class CustomerValueQuery:
    @query(description="A customer's current value, expected lifetime value and churn risk.")
    async def customer_value(
        self, info: Info, customer_id: strawberry.ID, horizon_days: int = 365
    ) -> CustomerValue:
        return CustomerValue.of(
            await use_case.customer_value(info.context.ctx, str(customer_id), horizon_days)
        )

    @query(description="The tenant's latest customer value fit, if any.")
    async def customer_value_model(self, info: Info) -> CustomerValueModel | None:
        model = await use_case.latest_model(info.context.ctx)
        return CustomerValueModel.from_model(model) if model else None


@strawberry.type
class CustomerValueMutation:
    @mutation(description=f"Orders, 1 to {use_case.MAX_BATCH} a batch, idempotent by orderId.")
    async def record_orders(self, info: Info, orders: list[OrderInput]) -> RecordOrdersResult:
        report = await use_case.record_orders(
            info.context.ctx,
            [
                use_case.OrderIn(o.order_id, str(o.customer_id), int(o.amount_cents), o.at)
                for o in orders
            ],
        )
        return OrderReport(recorded=report.recorded, duplicates=report.duplicates)

    @mutation(description="Fit BG/NBD and Gamma-Gamma on the tenant's orders (synchronous).")
    async def fit_customer_value_model(self, info: Info) -> FitResult:
        return CustomerValueModel.from_model(await use_case.fit_model(info.context.ctx))
