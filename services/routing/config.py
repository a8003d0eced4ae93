from __future__ import annotations

from pydantic import Field

from shared.settings import ParleySettings, Port


class RoutingSettings(ParleySettings):
    service_name: str = "routing"
    # The faust web server: operators' /healthz and /metrics.
    port: Port = 6066
    # The router's clock: how often each worker publishes a routing.tick for the tenants it routes.
    # Ticks run the time rules (presence timeout, offline grace) and a sweep of the queues.
    tick_interval_seconds: float = Field(default=5.0, gt=0)
    # How long an agent who went offline keeps their chats before they are re-routed.
    offline_grace_seconds: float = Field(default=60.0, ge=0)
    # Presence heartbeats come every ~20 s from an open dashboard; silence this long counts as offline.
    heartbeat_timeout_seconds: float = Field(default=60.0, gt=0)
    # How soon the group notices a worker that died without leaving (SIGKILL, lost host).
    kafka_session_timeout_seconds: float = Field(default=10.0, gt=0)
    # A rebalance plus table recovery takes seconds; one this long is stuck, and /healthz answers 503.
    stuck_rebalance_seconds: float = Field(default=120.0, gt=0)
    # faust's local directory (it keeps nothing there with the in-memory store; the changelog is the state).
    data_dir: str = ".local/faust"
