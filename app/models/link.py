"""Segment -> plan links (the canvas edges) and where the user placed the canvas nodes."""

from __future__ import annotations

from enum import StrEnum

from beanie import PydanticObjectId

from app.models.base import TenantDocument


class LinkType(StrEnum):
    FINALIZED = "finalized"
    EXPERIMENTAL = "experimental"


class SegmentPlanLink(TenantDocument):
    product_id: PydanticObjectId
    segment_id: PydanticObjectId
    plan_id: PydanticObjectId
    link_type: LinkType = LinkType.FINALIZED
    percentage: int | None = None  # share of the segment's traffic; None: the rest
    active: bool = True

    class Settings:
        name = "segment_plan_links"
        indexes = [[("tenant_id", 1), ("segment_id", 1)]]


class CanvasPosition(TenantDocument):
    product_id: PydanticObjectId
    node_id: PydanticObjectId  # a segment's or a plan's id
    x: float
    y: float

    class Settings:
        name = "canvas_positions"
        indexes = [[("tenant_id", 1), ("product_id", 1)]]
