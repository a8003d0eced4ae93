from __future__ import annotations

from shared.settings import ParleySettings, Port


class HistorySettings(ParleySettings):
    service_name: str = "history"
    # Operations endpoint only (/healthz, /readyz, /metrics): the gateway serves the history to users.
    port: Port = 8002
