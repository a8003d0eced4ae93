from __future__ import annotations

from pydantic import Field

from shared.settings import ParleySettings


class GatewaySettings(ParleySettings):
    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
