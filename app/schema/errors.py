"""Typed errors for mutation results, and the policy for every other error.

Domain errors raised by resolvers become members of a mutation's result union (through
Strawberry's exception handlers). Anything else reaching the client is either a clean
"service unavailable" error or masked with an error id that points at the full log entry.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import strawberry
from graphql.error import GraphQLError
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from strawberry.extensions import MaskErrors
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

from app import errors

log = logging.getLogger("app.errors")

UNAVAILABLE: dict[type[BaseException], str] = {
    ConnectionFailure: "MongoDB",
    ServerSelectionTimeoutError: "MongoDB",
    AutoReconnect: "MongoDB",
    RedisConnectionError: "Redis",
    RedisTimeoutError: "Redis",
}


@strawberry.interface(description="What every typed error of a mutation result carries.")
class Error:
    message: str
    code: str


@strawberry.type
class FieldError:
    path: list[str]
    message: str


@strawberry.type(description="The input was rejected; nothing was changed.")
class ValidationError(Error):
    fields: list[FieldError]


@strawberry.type
class NotFoundError(Error):
    entity: str
    id: strawberry.ID


@strawberry.type(description="The change collides with the current state; nothing was changed.")
class ConflictError(Error):
    pass


@strawberry.type
class ForbiddenError(Error):
    pass


@strawberry.type(description="Credentials were missing, wrong, expired or revoked.")
class AuthenticationError(Error):
    pass


@strawberry.type(description="Too many requests; try again after `retryAfter` seconds.")
class RateLimitedError(Error):
    retry_after: float


class ValidationHandler(strawberry.ExceptionHandler[errors.ValidationFailed, ValidationError]):
    def handle(
        self, exception: errors.ValidationFailed, *, field: StrawberryField, info: Info
    ) -> ValidationError:
        issues = [FieldError(path=list(i.path), message=i.message) for i in exception.issues]
        return ValidationError(message=exception.message, code=exception.code, fields=issues)


class NotFoundHandler(strawberry.ExceptionHandler[errors.NotFound, NotFoundError]):
    def handle(
        self, exception: errors.NotFound, *, field: StrawberryField, info: Info
    ) -> NotFoundError:
        return NotFoundError(
            message=exception.message,
            code=exception.code,
            entity=exception.entity,
            id=strawberry.ID(exception.entity_id),
        )


class ConflictHandler(strawberry.ExceptionHandler[errors.Conflict, ConflictError]):
    def handle(
        self, exception: errors.Conflict, *, field: StrawberryField, info: Info
    ) -> ConflictError:
        return ConflictError(message=exception.message, code=exception.code)


class ForbiddenHandler(strawberry.ExceptionHandler[errors.Forbidden, ForbiddenError]):
    def handle(
        self, exception: errors.Forbidden, *, field: StrawberryField, info: Info
    ) -> ForbiddenError:
        return ForbiddenError(message=exception.message, code=exception.code)


class AuthenticationHandler(
    strawberry.ExceptionHandler[errors.Unauthenticated, AuthenticationError]
):
    def handle(
        self, exception: errors.Unauthenticated, *, field: StrawberryField, info: Info
    ) -> AuthenticationError:
        return AuthenticationError(message=exception.message, code=exception.code)


class RateLimitedHandler(strawberry.ExceptionHandler[errors.RateLimited, RateLimitedError]):
    def handle(
        self, exception: errors.RateLimited, *, field: StrawberryField, info: Info
    ) -> RateLimitedError:
        return RateLimitedError(
            message=exception.message, code=exception.code, retry_after=exception.retry_after
        )


EXCEPTION_HANDLERS = (
    ValidationHandler(),
    NotFoundHandler(),
    ConflictHandler(),
    ForbiddenHandler(),
    AuthenticationHandler(),
    RateLimitedHandler(),
)


def error_extensions(error: errors.DomainError) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": error.code}
    if isinstance(error, errors.RateLimited):
        extensions["retryAfter"] = round(error.retry_after, 3)
    if isinstance(error, errors.ValidationFailed):
        extensions["fields"] = [{"path": list(i.path), "message": i.message} for i in error.issues]
    return extensions


def _unavailable_service(error: BaseException) -> str | None:
    for exc_type, service in UNAVAILABLE.items():
        if isinstance(error, exc_type):
            return service
    return None


class ErrorPolicy(MaskErrors):
    """Keep domain and request errors, name unavailable services, mask the rest."""

    def _process_errors(self, errors_: list[GraphQLError]) -> list[GraphQLError]:
        return [self._policy(error) for error in errors_]

    def _policy(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            return error
        if error.path is None and isinstance(original, ValueError):
            # Validation of the client's own document (an Int literal of 5,000 digits):
            # graphql-core reports the literal and the reason, which is the client's to read.
            return error
        if isinstance(original, errors.DomainError):
            return self._replace(error, original.message, error_extensions(original))
        service = _unavailable_service(original)
        if service is not None:
            log.warning("%s unavailable during a request: %s", service, original)
            unavailable = errors.Unavailable(service)
            return self._replace(error, unavailable.message, {"code": unavailable.code})
        error_id = uuid.uuid4().hex
        log.error("unexpected error %s", error_id, exc_info=original)
        message = f"Internal server error (error id {error_id})"
        return self._replace(error, message, {"code": "INTERNAL", "errorId": error_id})

    @staticmethod
    def _replace(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
