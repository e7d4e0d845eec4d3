"""Projects (workspaces) and their members in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.models import identity
from app.models.identity import Role
from app.resolvers import project as use_case
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, ValidationError
from app.schema.fields import mutation, query
from app.schema.pagination import Connection, paginate


@strawberry.type
class ProjectMember:
    user_id: strawberry.ID
    role: Role


@strawberry.type
class Project:
    id: strawberry.ID
    name: str
    description: str
    members: list[ProjectMember]
    created_at: datetime

    @classmethod
    def from_model(cls, doc: identity.Project) -> Project:
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            description=doc.description,
            members=[
                ProjectMember(user_id=strawberry.ID(str(m.user_id)), role=m.role)
                for m in doc.members
            ],
            created_at=doc.created_at,
        )


@strawberry.input
class CreateProjectInput:
    name: str
    description: str = ""


CreateProjectResult = Annotated[
    Project | ValidationError | ConflictError, strawberry.union("CreateProjectResult")
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
        scope = info.context.scope
        return await paginate(scope, identity.Project, {}, (first, after), Project.from_model)


@strawberry.type
class ProjectMutation:
    @mutation()
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectResult:
        ctx = info.context.ctx
        return Project.from_model(await use_case.create_project(ctx, input.name, input.description))

    @mutation(identity.Role.ADMIN)
    async def set_project_member(
        self, info: Info, project_id: strawberry.ID, user_id: strawberry.ID, role: Role
    ) -> SetProjectMemberResult:
        ctx = info.context.ctx
        return Project.from_model(await use_case.set_member(ctx, project_id, user_id, role))
