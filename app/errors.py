"""Domain errors raised by resolvers; the schema turns them into typed GraphQL results."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    code = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FieldIssue:
    path: tuple[str, ...]
    message: str


class ValidationFailed(DomainError):
    code = "VALIDATION"

    def __init__(self, issues: list[FieldIssue], message: str = "Invalid input") -> None:
        super().__init__(message)
        self.issues = issues

    @classmethod
    def single(cls, path: str, message: str) -> ValidationFailed:
        return cls([FieldIssue(tuple(path.split(".")), message)], f"{path}: {message}")


def api_name(entity: str | type) -> str:
    """What the API calls a kind of document: its class's name, unless the class states
    the API type's name in `api_name` (an OrchestrationRun is a Run to clients)."""
    if isinstance(entity, str):
        return entity
    return getattr(entity, "api_name", None) or entity.__name__


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, entity: str | type, entity_id: str) -> None:
        self.entity = api_name(entity)
        self.entity_id = entity_id
        super().__init__(f"{self.entity} {entity_id} not found")


class Conflict(DomainError):
    code = "CONFLICT"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unavailable(DomainError):
    """A backing service (MongoDB, Redis) cannot be reached right now."""

    code = "UNAVAILABLE"

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} is unavailable; try again shortly")
        self.service = service


class Unauthenticated(DomainError):
    """Missing, wrong, expired or revoked credentials."""

    code = "UNAUTHENTICATED"


class RateLimited(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, what: str, retry_after: float) -> None:
        super().__init__(f"rate limit for {what} reached; retry in {retry_after:.1f} s")
        self.retry_after = retry_after
