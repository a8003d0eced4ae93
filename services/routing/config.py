from __future__ import annotations

from pydantic import Field

from shared.settings import ParleySettings


class RoutingSettings(ParleySettings):
    service_name: str = "routing"
    host: str = "127.0.0.1"
    # The faust web server: operators' /healthz and /metrics.
    port: int = Field(default=6066, gt=0, lt=65536)
