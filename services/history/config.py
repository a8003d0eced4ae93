from __future__ import annotations

from pydantic import Field

from shared.settings import ParleySettings


class HistorySettings(ParleySettings):
    service_name: str = "history"
    # Operations endpoint only (/healthz, /readyz, /metrics): the gateway serves the history to users.
    host: str = "127.0.0.1"
    port: int = Field(default=8002, gt=0, lt=65536)
