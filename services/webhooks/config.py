from __future__ import annotations

from pydantic import Field

from services.webhooks.domain import DELIVERY_RETRY_POLICY
from services.webhooks.targets import TargetPolicy
from shared.retry import RetryPolicy
from shared.settings import ParleySettings, Port


class WebhookTargetSettings(ParleySettings):
    """What the gateway (at registration) and the webhooks service (at send time) let a webhook reach."""

    # None: loopback and plain http are allowed outside production only. Tests and development set true.
    webhook_allow_loopback: bool | None = None

    def target_policy(self) -> TargetPolicy:
        development = self.environment != "production"
        allow = self.webhook_allow_loopback if self.webhook_allow_loopback is not None else development
        return TargetPolicy(allow_loopback=allow, require_https=not allow)


class WebhooksSettings(WebhookTargetSettings):
    service_name: str = "webhooks"
    port: Port = Field(default=8003, description="Operations: /healthz, /readyz, /metrics.")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Compresses the whole retry schedule (delays and the 3-day horizon); tests use e.g. 0.00005.
    webhook_retry_time_scale: float = Field(default=1.0, gt=0, le=1)
    webhook_disable_after_failures: int = Field(default=50, ge=1)
    webhook_concurrent_requests: int = Field(default=50, ge=1, le=1000)

    def retry_policy(self) -> RetryPolicy:
        return DELIVERY_RETRY_POLICY.scaled(self.webhook_retry_time_scale)
