"""Liveness and readiness for operators and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from services.gateway.deps import CredentialRecordDep, DatabaseDep, HubDep, ProducerDep, RateLimitsDep
from shared.metrics import exposition, sample

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


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
async def metrics(hub: HubDep, limits: RateLimitsDep, record: CredentialRecordDep) -> str:
    return exposition(
        [
            sample("parley_gateway_live_connections", hub.connections),
            sample("parley_gateway_live_events_seen_total", hub.events_seen),
            sample("parley_gateway_live_messages_pushed_total", hub.pushed),
            *(
                sample("parley_gateway_rate_limited_total", n, limit=name)
                for name, n in limits.refused.items()
            ),
            sample("parley_gateway_rate_limited_total", record.refused_while_locked, limit="account_locked"),
            sample("parley_gateway_accounts_locked_total", record.accounts_locked),
            sample("parley_gateway_password_checks_total", record.password_checks),
        ]
    )
