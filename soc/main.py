"""The web application: routers under /api/v1, errors as problem details, background work.

``create_app`` builds nothing at import time. Background services (the webhook notifier now,
the detection scheduler later) are started by the lifespan hook and stopped when it ends.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from soc.auth import Unauthorized
from soc.config import Settings, load_settings
from soc.errors import BadQuery, Conflict, Forbidden, Invalid, NotFound, SocError, TooMany
from soc.incidents.notify import Notifier
from soc.runtime import Runtime
from soc.telemetry import api as telemetry
from soc.telemetry import collect
from soc.web import mount as mount_console

API_PREFIX = "/api/v1"
# Each noun's router is its package's api.py; the API is their union, included in this order.
ROUTERS = ("soc.incidents.api", "soc.alerts.api", "soc.suppressions.api", "soc.accounts.api", "soc.audit.api",
           "soc.agencies.api", "soc.sources.api", "soc.reports.api", "soc.hunt.api", "soc.intel.api",
           "soc.campaigns.api")
MAX_BODY = 256 * 1024
PROBLEM = "application/problem+json"
STATUS: list[tuple[type[SocError], int, str]] = [
    (Unauthorized, 401, "Not authenticated"), (Forbidden, 403, "Not allowed"), (NotFound, 404, "Not found"),
    (Conflict, 409, "Conflict"), (BadQuery, 400, "Bad query"), (Invalid, 422, "Not acceptable"),
    (TooMany, 429, "Too many requests"),
]


class Background(Protocol):
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...


def problem(status: int, title: str, detail: str, request: Request | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    if request is not None:
        body["instance"] = request.url.path
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class BodyLimit:
    """Refuses request bodies larger than ``limit`` bytes (413) before anything is parsed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counting, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, "Request body too large", f"a request body may have at most {self.limit} bytes")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(SocError)
    async def soc_error(request: Request, exc: SocError) -> JSONResponse:
        for kind, status, title in STATUS:
            if isinstance(exc, kind):
                current = getattr(exc, "current", None)
                extra = {"current": current} if current else {}
                if isinstance(exc, BadQuery):  # a search query: where it went wrong, and why
                    extra = {"position": exc.position, "reason": exc.reason}
                response = problem(status, title, str(exc), request, **extra)
                if isinstance(exc, TooMany):
                    response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
                return response
        return problem(500, "Service error", str(exc), request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
                  for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:10])
        return problem(422, "Invalid request", detail, request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "Request refused", str(exc.detail), request)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None,
               background: Sequence[Background] = ()) -> FastAPI:
    """The application; pass a runtime to share stores, clock and notifier with tests."""
    rt = runtime or Runtime.build(settings or load_settings())
    if rt.notifier is None:
        rt.notifier = Notifier(rt.client, rt.names, allow_private=rt.settings.webhook_allow_private)
    services: list[Background] = [rt.notifier, *background]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for service in services:  # the detection scheduler joins this list when it exists
            service.start()
        try:
            yield
        finally:
            for service in reversed(services):
                service.stop()

    app = FastAPI(title="SOC service API", version="1", lifespan=lifespan, openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url=f"{API_PREFIX}/docs", redoc_url=None,
                  description="Incidents, alerts, exceptions, users, tokens, audit and webhooks of the SOC. "
                              "Authenticate with `Authorization: Bearer <token>`. Errors are problem details "
                              "(RFC 9457).")
    app.state.runtime = rt
    for module in ROUTERS:
        router: APIRouter = importlib.import_module(module).router
        app.include_router(router, prefix=API_PREFIX, responses={
            401: {"description": "no or bad token"}, 404: {"description": "absent or outside your agencies"},
            422: {"description": "invalid request"}})
    _handlers(app)
    mount_console(app)  # the analyst console under /console
    scheduler = next((s for s in background if hasattr(s, "state")), None)
    telemetry.install(app, collect.registry(rt.notifier, getattr(scheduler, "grouping_totals", None)),
                      scheduler)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit)
    return app


def create_service_app() -> FastAPI:
    """What ``soc serve`` runs: the application with the service scheduler in its lifespan.

    ``SOC_SCHEDULER=off`` serves the API and console without periodic work (for extra workers).
    """
    import os

    from soc.scheduler import ServiceScheduler

    settings = load_settings()
    runtime = Runtime.build(settings)
    background: list[Background] = []
    if os.environ.get("SOC_SCHEDULER", "on").lower() not in ("0", "off", "false", "no"):
        background.append(ServiceScheduler(settings, runtime))
    return create_app(settings, runtime, background)
