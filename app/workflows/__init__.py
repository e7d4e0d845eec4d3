"""The workflows the run engine knows; importing this package registers them."""

from app.workflows import segment_metrics

__all__ = ["segment_metrics"]
