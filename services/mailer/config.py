from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from services.mailer.domain import MAIL_RETRY_POLICY
from shared.password_links import link_key as derive_link_key
from shared.retry import RetryPolicy
from shared.settings import ParleySettings, Port

DEVELOPMENT_SECRET = "parley-development-secret-change-me-in-production"


class SmtpSettings(ParleySettings):
    """The outgoing mail server, and what the gateway and the mailer share. Without a host and a sender,
    transcripts by email are not offered (the gateway answers 409 and the widget and dashboard hide the
    buttons) and password links are only shown to the supervisor, not emailed."""

    # Signs agent tokens and derives one-time password links (`shared/password_links.py`): every gateway
    # instance and the mailer share it; `make run` uses this development default, production sets its own.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # The key one-time links are derived with, in hex (`parley link-key` prints it from PARLEY_SECRET_KEY):
    # the mailer is given this instead of PARLEY_SECRET_KEY, so it never holds the key that signs agents'
    # tokens. Unset: derived from secret_key (the gateway; `make run`).
    password_link_key: SecretStr | None = None
    # Where the dashboard is reached: the links in emails start with it.
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://\S+$")

    smtp_host: str | None = None
    smtp_port: Port = 587
    # none: plain SMTP (a relay on loopback); starttls: upgrade on 587; tls: implicit TLS on 465.
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str | None = Field(
        default=None, description='The From address, e.g. "Acme Support <help@acme.com>".'
    )
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_sender)

    @field_validator("password_link_key")
    @classmethod
    def _a_derived_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(bytes.fromhex(value.get_secret_value())) != 32:
            raise ValueError("PARLEY_PASSWORD_LINK_KEY is the 64 hex digits `parley link-key` prints")
        return value

    def link_key(self) -> bytes:
        if self.password_link_key is not None:
            return bytes.fromhex(self.password_link_key.get_secret_value())
        return derive_link_key(self.secret_key.get_secret_value())

    def require_own_secret(self) -> None:
        # Tokens and links made with the published default could be forged by anyone who read the source.
        if self.environment == "production" and (
            self.secret_key.get_secret_value() == DEVELOPMENT_SECRET
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "PARLEY_SECRET_KEY must be set to a random value of 32+ characters in production"
            )

    @model_validator(mode="after")
    def _production_has_its_own_secret(self) -> SmtpSettings:
        # A service given the derived link key needs no secret key; one that signs tokens checks it too
        # (GatewaySettings).
        if self.password_link_key is None:
            self.require_own_secret()
        return self


class MailerSettings(SmtpSettings):
    service_name: str = "mailer"
    port: Port = Field(default=8004, description="Operations: /healthz, /readyz, /metrics.")
    # Compresses the whole retry schedule (delays and the give-up horizon); tests use e.g. 0.0001.
    mailer_retry_time_scale: float = Field(default=1.0, gt=0, le=1)

    def retry_policy(self) -> RetryPolicy:
        return MAIL_RETRY_POLICY.scaled(self.mailer_retry_time_scale)
