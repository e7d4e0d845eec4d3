"""The ASGI application: /graphql (HTTP and WebSocket, GraphiQL), /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types import ExecutionResult as StrawberryResult
from strawberry.types.graphql import OperationType

from app.demo import banner, prepare_demo
from app.errors import DomainError, NotFound, RateLimited, Unauthenticated
from app.jobs import run_in_process
from app.ratelimit import limits_for
from app.request_json import read_json
from app.resolvers import report as reports
from app.resolvers import scoring_export
from app.resolvers.auth import authenticate
from app.resolvers.usage import admit_operation
from app.runtime import Services, freeze_heap, start_services
from app.schema.context import Context
from app.schema.errors import error_extensions
from app.schema.schema import build_schema
from app.settings import Settings, get_settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
CREDENTIAL_RECHECK_SECONDS = 2.0
log = logging.getLogger(__name__)


def is_request_error(result: StrawberryResult) -> bool:
    """Parse and validation failures: the operation never ran, so there is no `data`."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


def wants_graphql_response_json(request: Request) -> bool:
    return GRAPHQL_RESPONSE_JSON in request.headers.get("accept", "")


class AdmittedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws where each operation is admitted as an HTTP request is: counted
    and rate-limited; over the limit it ends with a RATE_LIMITED `error` message and the
    socket stays open for later operations."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        context = self.context
        try:
            await admit_operation(context.services, context.principal, context.client_ip)
        except RateLimited as limited:
            error = GraphQLError(limited.message, extensions=error_extensions(limited))
            await operation.send_initial_errors([error])
            return
        await super().run_operation(operation)


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's view, made to follow the GraphQL-over-HTTP media type rules."""

    graphql_transport_ws_handler_class = AdmittedTransportWS

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            keep_alive=True,
            keep_alive_interval=15,
            allowed_origins=settings.cors_origins,
            multipart_uploads_enabled=True,  # file uploads; the tier's limit is checked too
        )
        self.settings = settings

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        services: Services = request.app.state.services
        principal = getattr(request.state, "principal", None)
        return Context(request, response, services, principal)

    async def on_ws_connect(self, context: Context) -> Any:
        """Subscriptions authenticate in connection_init: {"authorization": "Bearer …"}."""
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        try:
            principal = await authenticate(context.services, authorization)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from None
        if principal is None:
            raise ConnectionRejectionError({"message": "sign in first: send authorization"})
        context.principal = principal
        watch = asyncio.create_task(watch_credentials(context, authorization))
        _background.add(watch)
        watch.add_done_callback(_background.discard)
        return None

    async def admit(self, request: Request) -> Response | None:
        """Authenticate and rate-limit an HTTP request; a response when it is refused."""
        services: Services = request.app.state.services
        client_ip = request.client.host if request.client else "unknown"
        try:
            principal = await authenticate(services, request.headers.get("authorization"))
        except Unauthenticated as error:
            return refusal(401, error, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        request.state.principal = principal
        if request.headers.get("content-type", "").startswith("multipart/"):
            # An upload's body is read only for a known caller, and only up to their tier's
            # limit (BodyLimit enforces it as the body arrives).
            if principal is None:
                unknown = Unauthenticated("sign in first: uploads need credentials")
                return refusal(401, unknown, {"WWW-Authenticate": "Bearer"})
            upload_limit = limits_for(principal.tier).max_upload_bytes + FORM_PARTS_BYTES
            request.scope["state"][BODY_LIMIT] = upload_limit
        try:
            await admit_operation(services, principal, client_ip)
        except RateLimited as limited:
            retry = str(max(1, math.ceil(limited.retry_after)))
            return refusal(429, limited, {"Retry-After": retry})
        return None

    def decode_json(self, data: str | bytes) -> object:
        return read_json(data, self.settings.max_json_depth)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as error:
            raise HTTPException(400, f"Unable to parse the request's JSON: {error.msg}") from None

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        """The multipart request spec's `operations` and `map` are fields of JSON, not files."""
        form = (await request.get_form_data()).form
        for name in ("operations", "map"):
            if not isinstance(form.get(name, ""), str):
                if isinstance(form, FormData):
                    await form.close()  # the spooled files of the refused request
                raise HTTPException(400, f"the multipart part {name!r} must be a field, not a file")
        return await super().parse_multipart(request)

    async def process_result(
        self, request: Request, result: StrawberryResult
    ) -> GraphQLHTTPResponse:
        response = process_result(result)
        if is_request_error(result):
            response.pop("data", None)
            request.state.graphql_request_error = True
        return response

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        kwargs = {} if context is None else {"context": context}
        if isinstance(request, Request) and request.method in ("GET", "POST"):
            refused = await self.admit(request)
            if refused is not None:
                return refused
        try:
            response = await super().run(request, **kwargs)
        except HTTPException as error:
            if not isinstance(request, Request):
                raise
            return request_refused(error)
        if (
            isinstance(request, Request)
            and isinstance(response, Response)
            and response.headers.get("content-type", "").startswith("application/json")
            and wants_graphql_response_json(request)
        ):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            if getattr(request.state, "graphql_request_error", False):
                response.status_code = 400
        return response


_background: set[asyncio.Task[None]] = set()


def refusal(status: int, error: DomainError, headers: dict[str, str]) -> Response:
    body = {"errors": [{"message": error.message, "extensions": error_extensions(error)}]}
    return JSONResponse(body, status, headers=headers)


class BadRequest(DomainError):
    code = "BAD_REQUEST"


SUBSCRIPTIONS_OVER_WS = (
    "subscriptions are served over WebSocket (graphql-transport-ws) at this URL, not over HTTP"
)


def request_refused(error: HTTPException) -> Response:
    """A request that cannot be run (unreadable, wrong method or operation type), answered
    as a GraphQL error with a BAD_REQUEST code instead of plain text."""
    status, message, headers = error.status_code, error.reason, {}
    cause = error.__cause__
    if isinstance(cause, InvalidOperationTypeError):
        if cause.operation_type is OperationType.SUBSCRIPTION:
            status, message = 400, SUBSCRIPTIONS_OVER_WS
        else:  # GraphQL over HTTP: a mutation sent with GET is a method problem.
            status, headers = 405, {"Allow": "POST"}
    return refusal(status, BadRequest(message), headers)


async def watch_credentials(context: Context, authorization: str | None) -> None:
    """Close a subscription socket once its credentials expire or are revoked."""
    websocket = context.request
    assert isinstance(websocket, WebSocket)
    while websocket.client_state == WebSocketState.CONNECTED:
        await asyncio.sleep(CREDENTIAL_RECHECK_SECONDS)
        try:
            await authenticate(context.services, authorization)
        except Unauthenticated as error:
            with contextlib.suppress(Exception):
                await websocket.close(4403, error.message[:120])
            return
        except Exception as error:  # stores down: keep the socket, check again later
            log.debug("credential re-check failed: %s", error)


class RequestMetrics:
    """Counts and times every HTTP request for /metrics."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "http_requests", "HTTP requests", ["path", "status"], registry=registry
        )
        self.latency = Histogram(
            "http_request_seconds", "HTTP request latency", ["path"], registry=registry
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def record_status(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, record_status)
        finally:
            path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
            self.requests.labels(path, str(status["code"])).inc()
            self.latency.labels(path).observe(time.perf_counter() - started)


class BodyLimit:
    """Refuses request bodies over their limit with 413 as they are read, before they reach
    the GraphQL layer. A JSON body's limit is MAX_REQUEST_BYTES. A multipart body (an
    upload) has none until the view, having authenticated the caller from the headers, sets
    their tier's in the request's state (BODY_LIMIT): until then not a byte of it is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/")
        state = scope.setdefault("state", {})
        state[BODY_LIMIT] = 0 if multipart else self.max_bytes
        length = headers.get(b"content-length", b"")
        declared = int(length) if length.isdigit() else 0
        received = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal received
            limit = state[BODY_LIMIT]
            if max(declared, received) > limit:
                raise _TooLarge(limit)
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge as too_large:
            message = f"request body larger than {too_large.limit} bytes"
            extensions = {"code": "PAYLOAD_TOO_LARGE"}
            body = {"errors": [{"message": message, "extensions": extensions}]}
            await JSONResponse(body, 413)(scope, receive, send)


BODY_LIMIT = "body_limit"  # the key of the current request's body limit in its scope state
FORM_PARTS_BYTES = 64 * 1024  # an upload's `operations` and `map` parts, beside the file


class _TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


KNOWN_PATHS = {"/graphql", "/healthz", "/readyz", "/metrics"}


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options that follow the settings: X-Forwarded-For is believed only from the
    TRUSTED_PROXIES (uvicorn's own default would trust any local peer)."""
    trusted = settings.trusted_proxies
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def report_file(request: Request) -> Response:
    """A report's file behind a signed, expiring link (`?format=pdf`, `html` or `csv`)."""
    services: Services = request.app.state.services
    token, fmt = request.path_params["token"], request.query_params.get("format", "pdf")
    try:
        found = await reports.open_download(services, token, fmt)
    except reports.LinkRefused as refused:
        return JSONResponse({"error": refused.message}, refused.status)
    disposition = f'inline; filename="{found.filename}"'
    headers = {"Content-Disposition": disposition, "Cache-Control": "private, no-store"}
    return Response(found.data, media_type=found.content_type, headers=headers)


async def export_download(request: Request) -> Response:
    """A signed export link (app/resolvers/scoring_export.py): the file, or 404."""
    try:
        download = await scoring_export.open_link(
            request.app.state.services, request.path_params["token"]
        )
    except (scoring_export.LinkRefused, NotFound) as refused:
        return JSONResponse({"error": refused.message}, 404)
    disposition = f'attachment; filename="{download.filename}"'
    return StreamingResponse(
        download.body, media_type=download.media_type, headers={"Content-Disposition": disposition}
    )


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    checks = {
        "mongodb": "ok" if await services.database.ping() else "unavailable",
        "eventBus": "ok" if await services.bus.ping() else "unavailable",
    }
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503
    )


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    seed_demo: bool = False,
    freeze_after_start: bool = False,
) -> Starlette:
    """The API. Pass `services` to share already started stores (tests do);
    `freeze_after_start` for a server process, whose start-up objects live as long as it."""
    settings = settings or get_settings()
    registry = CollectorRegistry()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or await start_services(settings)
        run_in_process(app.state.services)
        if seed_demo:
            access = await prepare_demo(app.state.services)
            url = f"http://{settings.host}:{settings.port}/graphql"
            print(banner(access, url), flush=True)  # the demo's credentials are for its user
        if freeze_after_start:
            freeze_heap()
        try:
            yield
        finally:
            if owned:
                await app.state.services.close()

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    view = GraphQLView(settings)
    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/exports/{token}", export_download),
            Route("/reports/{token}", report_file),
        ],
        middleware=[
            Middleware(RequestMetrics, registry=registry),
            Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            ),
        ],
        lifespan=lifespan,
    )
