"""Segment -> plan links, the canvas, its changes and link suggestions in the API."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from bson import ObjectId

from app import models
from app.bus import Event
from app.models.link import LinkType
from app.resolvers import canvas as canvas_case
from app.resolvers import link as use_case
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.related import Related, plan_of
from app.schema.streams import stream

if TYPE_CHECKING:
    from app.schema.plan import PricingPlan
    from app.schema.segment import CustomerSegment


@strawberry.type
class SegmentPlanLink:
    id: strawberry.ID
    product_id: strawberry.ID
    segment_id: strawberry.ID
    plan_id: strawberry.ID
    link_type: LinkType
    percentage: int | None
    active: bool
    created_at: datetime
    updated_at: datetime
    revision: int

    related: strawberry.Private[Related | None] = None

    @strawberry.field
    def plan(self, info: Info) -> Annotated[PricingPlan, strawberry.lazy("app.schema.plan")] | None:
        return plan_of(info, self.plan_id, self.related)

    @strawberry.field
    async def segment(
        self, info: Info
    ) -> Annotated[CustomerSegment, strawberry.lazy("app.schema.segment")] | None:
        from app.schema.segment import CustomerSegment

        doc = await info.context.loaders.segment.load(ObjectId(self.segment_id))
        return CustomerSegment.from_model(doc) if doc else None

    @classmethod
    def from_model(
        cls, doc: models.SegmentPlanLink, related: Related | None = None
    ) -> SegmentPlanLink:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            segment_id=strawberry.ID(str(doc.segment_id)),
            plan_id=strawberry.ID(str(doc.plan_id)),
            link_type=doc.link_type,
            percentage=doc.percentage,
            active=doc.active,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
            related=related,
        )


@strawberry.type
class Position:
    x: float
    y: float


@strawberry.enum
class CanvasNodeType(Enum):
    CUSTOMER_SEGMENT = "customerSegment"
    PRICING_PLAN = "pricingPlan"


@strawberry.type(description="What Cytoscape reads from `data`, and React Flow's node data.")
class CanvasNodeData:
    id: strawberry.ID
    label: str
    type: CanvasNodeType
    segment_id: strawberry.ID | None
    plan_id: strawberry.ID | None


@strawberry.type(
    description="A node: `{id, type, position, data}` (React Flow) or "
    "`{data, position}` (Cytoscape)."
)
class CanvasNode:
    id: strawberry.ID
    type: CanvasNodeType
    position: Position
    data: CanvasNodeData


@strawberry.type
class CanvasEdgeData:
    id: strawberry.ID
    source: strawberry.ID
    target: strawberry.ID
    connection_type: LinkType
    percentage: str | None  # "40%", as the seed's canvas shows it
    label: str


@strawberry.type
class CanvasEdge:
    id: strawberry.ID
    source: strawberry.ID
    target: strawberry.ID
    data: CanvasEdgeData


@strawberry.type
class Canvas:
    product_id: strawberry.ID
    nodes: list[CanvasNode]
    edges: list[CanvasEdge]


def _node(kind: CanvasNodeType, doc: Any, xy: tuple[float, float]) -> CanvasNode:
    node_id = strawberry.ID(str(doc.id))
    is_segment = kind == CanvasNodeType.CUSTOMER_SEGMENT
    data = CanvasNodeData(
        id=node_id,
        label=doc.name,
        type=kind,
        segment_id=node_id if is_segment else None,
        plan_id=None if is_segment else node_id,
    )
    return CanvasNode(id=node_id, type=kind, position=Position(x=xy[0], y=xy[1]), data=data)


def _edge(link: models.SegmentPlanLink) -> CanvasEdge:
    ids = strawberry.ID(str(link.id)), strawberry.ID(str(link.segment_id))
    target = strawberry.ID(str(link.plan_id))
    share = f"{link.percentage}%" if link.percentage is not None else None
    label = f"{link.link_type.value}{' ' + share if share else ''}"
    data = CanvasEdgeData(
        id=ids[0],
        source=ids[1],
        target=target,
        connection_type=link.link_type,
        percentage=share,
        label=label,
    )
    return CanvasEdge(id=ids[0], source=ids[1], target=target, data=data)


def to_canvas(view: canvas_case.Canvas) -> Canvas:
    nodes = [
        _node(CanvasNodeType.CUSTOMER_SEGMENT, s, view.positions[str(s.id)]) for s in view.segments
    ]
    nodes += [_node(CanvasNodeType.PRICING_PLAN, p, view.positions[str(p.id)]) for p in view.plans]
    return Canvas(
        product_id=strawberry.ID(str(view.product.id)),
        nodes=nodes,
        edges=[_edge(link) for link in view.links],
    )


@strawberry.type
class LinkSuggestion:
    segment_id: strawberry.ID
    plan_id: strawberry.ID
    link_type: LinkType
    percentage: int | None
    fit: float
    reason: str


@strawberry.type
class CanvasChange:
    type: str
    product_id: strawberry.ID
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> CanvasChange:
        product_id = strawberry.ID(event.data["productId"])
        return cls(type=event.type, product_id=product_id, cursor=event.id)


@strawberry.input
class CreateLinkInput:
    segment_id: strawberry.ID
    plan_id: strawberry.ID
    link_type: LinkType = LinkType.FINALIZED
    percentage: int | None = None


@strawberry.input(description="Given fields change; `clearPercentage` removes the share.")
class UpdateLinkInput:
    id: strawberry.ID
    revision: int
    link_type: LinkType | None = None
    percentage: int | None = None
    clear_percentage: bool = False
    active: bool | None = None


LinkResult = Annotated[
    SegmentPlanLink | ValidationError | NotFoundError | ConflictError,
    strawberry.union("LinkResult"),
]
MoveResult = Annotated[Position | ValidationError | NotFoundError, strawberry.union("MoveResult")]


@strawberry.type
class LinkQuery:
    @query(description="The product's segments, plans and active links as a graph.")
    async def canvas(self, info: Info, product_id: strawberry.ID) -> Canvas:
        return to_canvas(await canvas_case.canvas(info.context.ctx, product_id))

    @query(description="Links worth adding, from segment metrics and plan fit.")
    async def link_suggestions(self, info: Info, product_id: strawberry.ID) -> list[LinkSuggestion]:
        found = await canvas_case.suggestions(info.context.ctx, product_id)
        return [
            LinkSuggestion(
                segment_id=strawberry.ID(str(s.segment.id)),
                plan_id=strawberry.ID(str(s.plan.id)),
                link_type=s.link_type,
                percentage=s.percentage,
                fit=s.fit,
                reason=s.reason,
            )
            for s in found
        ]


@strawberry.type
class LinkMutation:
    @mutation()
    async def create_link(self, info: Info, input: CreateLinkInput) -> LinkResult:
        doc = await use_case.create_link(
            info.context.ctx, input.segment_id, input.plan_id, input.link_type, input.percentage
        )
        return SegmentPlanLink.from_model(doc)

    @mutation()
    async def update_link(self, info: Info, input: UpdateLinkInput) -> LinkResult:
        changes: dict[str, Any] = {}
        if input.link_type is not None:
            changes["link_type"] = input.link_type
        if input.percentage is not None or input.clear_percentage:
            changes["percentage"] = None if input.clear_percentage else input.percentage
        if input.active is not None:
            changes["active"] = input.active
        doc = await use_case.update_link(info.context.ctx, input.id, input.revision, changes)
        return SegmentPlanLink.from_model(doc)

    @mutation()
    async def delete_link(self, info: Info, id: strawberry.ID) -> LinkResult:
        return SegmentPlanLink.from_model(await use_case.delete_link(info.context.ctx, id))

    @mutation(description="Persist where the user put a canvas node.")
    async def move_canvas_node(
        self, info: Info, product_id: strawberry.ID, node_id: strawberry.ID, x: float, y: float
    ) -> MoveResult:
        doc = await canvas_case.move_node(info.context.ctx, product_id, node_id, x, y)
        return Position(x=doc.x, y=doc.y)


@strawberry.type
class LinkSubscription:
    @subscription(description="Changes of a product's canvas: links, nodes, positions.")
    def canvas_changed(
        self, info: Info, product_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[CanvasChange, None]:
        events = use_case.follow(info.context.ctx, product_id, since)
        return stream(events, CanvasChange.from_event)
