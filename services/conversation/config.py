from __future__ import annotations

from pydantic import Field

from shared.settings import ParleySettings, Port


class ConversationSettings(ParleySettings):
    service_name: str = "conversation"
    port: Port = Field(default=8001, description="Operations endpoint: /healthz, /readyz, /metrics.")
