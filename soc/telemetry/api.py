"""``/metrics``, ``/healthz`` and ``/readyz``, and the middleware that times every request by route.

The three paths sit outside ``/api/v1`` and need no token (as a load balancer or Prometheus calls
them); they carry counts, durations, slot names and rule ids, never log content.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from soc.telemetry.collect import Instruments

router = APIRouter(include_in_schema=False)


class Scheduled(Protocol):
    """What readiness asks of the service scheduler."""

    def state(self) -> dict[str, Any]: ...


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    instruments: Instruments = request.app.state.instruments
    return Response(generate_latest(instruments.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """OpenSearch answers, and the scheduler (where this process runs one) holds slots or stands by."""
    rt = request.app.state.runtime
    checks: dict[str, Any] = {}
    try:
        health = await asyncio.to_thread(rt.client.cluster.health, request_timeout=3)
        checks["opensearch"] = {"ok": health.get("status") in ("green", "yellow"), "status": health.get("status")}
    except Exception as exc:  # unreachable, refused, timed out: not ready, and why
        checks["opensearch"] = {"ok": False, "error": type(exc).__name__}
    scheduler: Scheduled | None = getattr(request.app.state, "scheduler", None)
    if scheduler is not None:
        state = scheduler.state()
        checks["scheduler"] = {"ok": bool(state.get("running")), **state}
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


class Timing:
    """Counts and times every HTTP request by method, route template (never the raw path) and status."""

    def __init__(self, app: ASGIApp, instruments: Instruments) -> None:
        self.app, self.instruments = app, instruments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            template = _template(scope)
            method = str(scope.get("method", ""))
            self.instruments.requests.labels(method, template, str(status)).inc()
            self.instruments.latency.labels(method, template).observe(time.perf_counter() - t0)


def _template(scope: Scope) -> str:
    """The matched route as a template (``/api/v1/incidents/{incident_id}``): the request's path with each
    path parameter's value put back as its name. A path no route matched is "unmatched", so that random
    paths never become label values."""
    if scope.get("route") is None:
        return "unmatched"
    names = {str(value): name for name, value in (scope.get("path_params") or {}).items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in str(scope.get("path", "")).split("/"))


def install(app: FastAPI, instruments: Instruments, scheduler: Scheduled | None = None) -> None:
    app.state.instruments = instruments
    app.state.scheduler = scheduler
    app.include_router(router)
    app.add_middleware(Timing, instruments=instruments)
