from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from services.gateway.rate_limits import Rate, RateSetting, proxy_networks
from services.mailer.config import SmtpSettings
from shared.settings import Port

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


class GatewaySettings(SmtpSettings):
    # SMTP settings: only whether email is configured matters here (the mailer sends).
    service_name: str = "gateway"
    port: Port = 8000
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
    def _signs_tokens_with_its_own_secret(self) -> GatewaySettings:
        self.require_own_secret()  # whether or not a link key is given: the secret key signs agent tokens
        return self

    # Rate limits on the public paths, per gateway instance, as COUNT/SECONDS (README: "Limits").
    # `false` turns every one off: only for a stack driven by a load generator (the bench sets it).
    rate_limits_enabled: bool = True
    limit_conversation_starts_per_address: RateSetting = Rate(20, 600)
    limit_messages_per_visitor: RateSetting = Rate(30, 60)
    limit_messages_per_address: RateSetting = Rate(120, 60)
    limit_uploads_per_visitor: RateSetting = Rate(10, 60)
    limit_uploads_per_address: RateSetting = Rate(30, 60)
    limit_sign_ins_per_address: RateSetting = Rate(30, 300)
    limit_sign_ins_per_account: RateSetting = Rate(20, 300)
    # The client address comes from X-Forwarded-For only when the direct peer is one of these proxies
    # (addresses or networks, e.g. ["10.0.0.0/8"]); otherwise a visitor could name any address and escape
    # every limit. Behind a load balancer, unset means every visitor shares the balancer's address.
    trusted_proxies: tuple[str, ...] = ()
    # How long an invitation's or a reset's one-time link to set a password stays valid.
    password_link_hours: float = Field(default=72, gt=0, le=24 * 30)
    # Account lockout, shared by all instances through the agent-credentials topic (always on).
    lockout_failures: int = Field(default=10, ge=1)
    lockout_window_seconds: float = Field(default=900, gt=0)
    lockout_first_seconds: float = Field(default=60, gt=0)
    lockout_max_seconds: float = Field(default=3600, gt=0)
    # Per tenant, the origins whose pages may start a conversation ({"default": ["https://shop.example"]});
    # a tenant not listed accepts any origin (the demo).
    widget_allowed_origins: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        proxy_networks(proxies)  # fails at start, not on the first request
        return proxies
