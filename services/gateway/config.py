from __future__ import annotations

from pydantic import Field, SecretStr

from shared.settings import ParleySettings

DEFAULT_UPLOAD_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)


class GatewaySettings(ParleySettings):
    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    # Every gateway instance must share it; `make run` uses this development default, production sets its own.
    secret_key: SecretStr = SecretStr("parley-development-secret-change-me-in-production")
    agent_token_minutes: int = Field(default=60, gt=0)
    visitor_token_days: int = Field(default=30, gt=0)
    default_tenant: str = "default"
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    upload_allowed_types: tuple[str, ...] = DEFAULT_UPLOAD_TYPES
