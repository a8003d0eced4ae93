"""What operators and supervisors see of a routing worker, on faust's web server: /healthz, /readyz, /metrics."""

from __future__ import annotations

import time
from typing import Any

import faust
from faust import web

from services.routing.config import RoutingSettings
from services.routing.metrics import RoutingMetrics
from services.routing.store import TenantStore


def add_ops_pages(
    app: faust.App, settings: RoutingSettings, metrics: RoutingMetrics, store: TenantStore, facts_name: str
) -> None:
    started_at = time.monotonic()

    def rebalancing() -> bool:
        return bool(app.rebalancing or getattr(app, "in_recovery", False))

    async def assigned(*_: Any, **__: Any) -> None:
        metrics.assigned_once = True

    app.on_partitions_assigned.connect(assigned)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def watch_rebalance() -> None:
        """Note when the worker entered its current rebalance or table recovery, for the probes."""
        if not rebalancing():
            metrics.rebalancing_since = None
        elif metrics.rebalancing_since is None:
            metrics.rebalancing_since = time.monotonic()

    @app.page("/healthz")
    async def healthz(view: web.View, request: web.Request) -> web.Response:
        """Alive unless a rebalance or recovery has gone on far too long: faust 0.15 can hang in one.

        A supervisor that restarts the worker on a 503 here gets it routing again after a fresh recovery.
        """
        body: dict[str, Any] = {"status": "ok", "uptime_seconds": round(time.monotonic() - started_at, 1)}
        rebalancing_seconds = metrics.rebalancing_seconds()
        if rebalancing_seconds > settings.stuck_rebalance_seconds:
            body.update(status="stuck", rebalancing_seconds=round(rebalancing_seconds, 1))
            return view.json(body, status=503)
        return view.json(body)

    @app.page("/readyz")
    async def readyz(view: web.View, request: web.Request) -> web.Response:
        """Ready once the worker joined its group and while it is not rebalancing or recovering its table."""
        if not metrics.assigned_once:
            return view.json({"status": "joining"}, status=503)
        if rebalancing():
            return view.json({"status": "rebalancing"}, status=503)
        # A worker may rightly route nothing (more workers than partitions), so this informs, not gates.
        routed = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == facts_name)
        return view.json({"status": "ready", "routing_facts_partitions": routed})

    @app.page("/metrics")
    async def prometheus(view: web.View, request: web.Request) -> web.Response:
        return view.text(metrics.render(store.cached_states()), content_type="text/plain; version=0.0.4")
