"""The workflows the run engine knows; importing this package registers them."""

from app.workflows import (
    customer_import,
    pricing_analysis,
    revenue_forecast,
    revenue_from_customers,
    revenue_import,
    segment_metrics,
)

__all__ = [
    "customer_import",
    "pricing_analysis",
    "revenue_forecast",
    "revenue_from_customers",
    "revenue_import",
    "segment_metrics",
]
