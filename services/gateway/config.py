from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from services.mailer.config import SmtpSettings

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


DEVELOPMENT_SECRET = "parley-development-secret-change-me-in-production"


class GatewaySettings(SmtpSettings):
    # SMTP settings: only whether email is configured matters here (the mailer sends).
    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    # Every gateway instance must share it; `make run` uses this development default, production sets its own.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    agent_token_minutes: int = Field(default=60, gt=0)
    visitor_token_days: int = Field(default=30, gt=0)
    default_tenant: str = "default"
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    upload_allowed_types: tuple[str, ...] = DEFAULT_UPLOAD_TYPES
    # A read naming positions (`?min_position=`) polls the view this often, for this long, then answers 503
    # with Retry-After (services/gateway/freshness.py). Views lag by ~100 ms, by seconds under heavy load.
    fresh_read_wait_seconds: float = Field(default=2.0, gt=0, le=30)
    fresh_read_poll_seconds: float = Field(default=0.03, gt=0, le=1)
    fresh_read_retry_after_seconds: int = Field(default=1, ge=1, le=60)

    @model_validator(mode="after")
    def _production_has_its_own_secret(self) -> GatewaySettings:
        # Tokens signed with the published default could be forged by anyone who read the source.
        if self.environment == "production" and (
            self.secret_key.get_secret_value() == DEVELOPMENT_SECRET
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "PARLEY_SECRET_KEY must be set to a random value of 32+ characters in production"
            )
        return self
