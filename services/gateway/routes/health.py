"""Liveness and readiness for operators and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.gateway.deps import DatabaseDep, ProducerDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process is up")
async def liveness() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Kafka and MongoDB answer")
async def readiness(db: DatabaseDep, producer: ProducerDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        await db.command("ping")
        checks["mongodb"] = "ok"
    except Exception as exc:  # reported, not raised: readiness must answer even when a dependency is down
        checks["mongodb"] = f"error: {type(exc).__name__}"
    try:
        await producer.client.fetch_all_metadata()
        checks["kafka"] = "ok"
    except Exception as exc:
        checks["kafka"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "degraded", "checks": checks}, status_code=200 if ready else 503
    )
