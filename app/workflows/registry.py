"""Every workflow the engine runs, in one list; a new workflow is added here."""

from __future__ import annotations

from app.errors import ValidationFailed
from app.models.run import WorkflowType
from app.workflows import (
    account_list,
    customer_import,
    pricing_analysis,
    report_generation,
    revenue_forecast,
    revenue_from_customers,
    revenue_import,
    scoring,
    segment_metrics,
)
from app.workflows.base import Workflow

WORKFLOWS: dict[str, Workflow] = {
    workflow.name: workflow
    for workflow in (
        account_list.WORKFLOW,
        customer_import.WORKFLOW,
        pricing_analysis.WORKFLOW,
        report_generation.WORKFLOW,
        revenue_forecast.WORKFLOW,
        revenue_from_customers.WORKFLOW,
        revenue_import.WORKFLOW,
        scoring.WORKFLOW,
        segment_metrics.WORKFLOW,
    )
}


def workflow_for(workflow_type: WorkflowType, name: str | None) -> Workflow:
    """The workflow a caller names, or the only one of its type when no name is given."""
    candidates = [w for w in WORKFLOWS.values() if w.type == workflow_type]
    if name is None and len(candidates) == 1:
        return candidates[0]
    for workflow in candidates:
        if workflow.name == name:
            return workflow
    known = ", ".join(w.name for w in candidates) or "none yet"
    raise ValidationFailed.single("input.workflow", f"workflows of {workflow_type}: {known}")
