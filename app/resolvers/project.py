"""Projects (workspaces) inside a tenant, with their members."""

from __future__ import annotations

from app.errors import Conflict, NotFound, ValidationFailed
from app.models.identity import Member, Project, Role, User
from app.resolvers.ctx import ResolverCtx


async def create_project(ctx: ResolverCtx, name: str, description: str) -> Project:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise ValidationFailed.single("input.name", "must be 1 to 200 characters")
    if await ctx.scope.find(Project, {"name": name}).count():
        raise Conflict(f"a project named {name!r} already exists")
    members = []
    if ctx.principal.kind == "user":
        members.append(Member(user_id=ctx.principal.id, role=Role.ADMIN))
    project = await ctx.scope.insert(
        Project(tenant_id=ctx.tenant_id, name=name, description=description, members=members)
    )
    ctx.audit.record("Project", project.id, after=project)
    return project


async def set_member(ctx: ResolverCtx, project_id: str, user_id: str, role: Role) -> Project:
    project = await ctx.scope.require(Project, project_id)
    user = await ctx.scope.get(User, user_id)
    if user is None:
        raise NotFound("User", user_id)
    members = [m for m in project.members if m.user_id != user.id]
    members.append(Member(user_id=user.id, role=role))
    updated = await ctx.scope.update(project, {"members": [m.model_dump() for m in members]})
    ctx.audit.record("Project", project.id, project, updated)
    return updated
