from __future__ import annotations

from pydantic import Field

from shared.settings import ParleySettings


class ConversationSettings(ParleySettings):
    service_name: str = "conversation"
    host: str = "127.0.0.1"
    port: int = Field(
        default=8001, gt=0, lt=65536, description="Operations endpoint: /healthz, /readyz, /metrics."
    )
