"""Projects (workspaces): members, products, data sources, AI instructions and settings."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from app.models import identity
from app.models.identity import ProjectProductRole, Role
from app.resolvers import project as use_case
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation, query
from app.schema.pagination import Connection, connection
from app.schema.related import product_of

if TYPE_CHECKING:
    from app.schema.product import Product


@strawberry.type
class ProjectMember:
    user_id: strawberry.ID
    role: Role


@strawberry.type
class ProjectProduct:
    product_id: strawberry.ID
    role: ProjectProductRole

    @strawberry.field
    def product(
        self, info: Info
    ) -> Annotated[Product, strawberry.lazy("app.schema.product")] | None:
        return product_of(info, self.product_id, None)


@strawberry.type(description="Where the project's data comes from (URLs, tables, files).")
class DataSources:
    product_data: str
    customer_data: str
    revenue_data: str


@strawberry.type
class Project:
    id: strawberry.ID
    name: str
    description: str
    active: bool
    members: list[ProjectMember]
    products: list[ProjectProduct]
    data_sources: DataSources
    ai_instructions: str = strawberry.field(
        description="Standing guidance the AI analyses of this project follow."
    )
    environment_config: JSON = strawberry.field(
        description="Non-secret settings as an object of strings, numbers and booleans."
    )
    created_at: datetime
    updated_at: datetime
    revision: int

    @classmethod
    def from_model(cls, doc: identity.Project) -> Project:
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            description=doc.description,
            active=doc.active,
            members=[
                ProjectMember(user_id=strawberry.ID(str(m.user_id)), role=m.role)
                for m in doc.members
            ],
            products=[
                ProjectProduct(product_id=strawberry.ID(str(p.product_id)), role=p.role)
                for p in doc.products
            ],
            data_sources=DataSources(**doc.data_sources.model_dump()),
            ai_instructions=doc.ai_instructions,
            environment_config=cast(JSON, doc.environment_config),
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            revision=doc.revision,
        )


@strawberry.input
class DataSourcesInput:
    product_data: str = ""
    customer_data: str = ""
    revenue_data: str = ""


@strawberry.input
class CreateProjectInput:
    name: str
    description: str = ""
    data_sources: DataSourcesInput | None = None
    ai_instructions: str = ""
    environment_config: JSON | None = None


@strawberry.input(description="Only the fields given change.")
class UpdateProjectInput:
    id: strawberry.ID
    revision: int
    name: str | None = None
    description: str | None = None
    active: bool | None = None
    data_sources: DataSourcesInput | None = None
    ai_instructions: str | None = None
    environment_config: JSON | None = None


def given(input: Any) -> dict[str, Any]:
    fields = {
        key: getattr(input, key)
        for key in ("name", "description", "active", "ai_instructions", "environment_config")
        if getattr(input, key, None) is not None
    }
    if input.data_sources is not None:
        fields["data_sources"] = asdict(input.data_sources)
    return fields


ProjectResult = Annotated[
    Project | ValidationError | NotFoundError | ConflictError, strawberry.union("ProjectResult")
]
SetProjectMemberResult = Annotated[
    Project | NotFoundError, strawberry.union("SetProjectMemberResult")
]


@strawberry.type
class ProjectQuery:
    @query()
    async def projects(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[Project]:
        page = await use_case.list_projects(info.context.ctx, (first, after))
        return connection(page, Project.from_model)

    @query()
    async def project(self, info: Info, id: strawberry.ID) -> Project | None:
        doc = await use_case.get_project(info.context.ctx, id)
        return Project.from_model(doc) if doc else None


@strawberry.type
class ProjectMutation:
    @mutation()
    async def create_project(self, info: Info, input: CreateProjectInput) -> ProjectResult:
        doc = await use_case.create_project(info.context.ctx, given(input))
        return Project.from_model(doc)

    @mutation(description="Change a project's fields; `revision` is the one last read.")
    async def update_project(self, info: Info, input: UpdateProjectInput) -> ProjectResult:
        ctx = info.context.ctx
        doc = await use_case.update_project(ctx, input.id, input.revision, given(input))
        return Project.from_model(doc)

    @mutation(description="Add a product in a role, change its role, or (no role) remove it.")
    async def set_project_product(
        self,
        info: Info,
        project_id: strawberry.ID,
        product_id: strawberry.ID,
        role: ProjectProductRole | None = None,
    ) -> ProjectResult:
        ctx = info.context.ctx
        return Project.from_model(await use_case.set_product(ctx, project_id, product_id, role))

    @mutation(identity.Role.ADMIN)
    async def set_project_member(
        self, info: Info, project_id: strawberry.ID, user_id: strawberry.ID, role: Role
    ) -> SetProjectMemberResult:
        ctx = info.context.ctx
        return Project.from_model(await use_case.set_member(ctx, project_id, user_id, role))
