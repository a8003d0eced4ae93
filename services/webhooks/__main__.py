"""Run the webhooks service: `python -m services.webhooks`.

It delivers the conversation events each registered endpoint subscribes to, signed per Standard Webhooks,
retried from Kafka, in order per conversation; and projects the endpoints and the delivery log.
"""

from __future__ import annotations

from services.webhooks.config import WebhooksSettings
from services.webhooks.service import serve
from shared import runtime
from shared.logging import configure_logging


def main() -> None:
    settings = WebhooksSettings()
    configure_logging(settings)
    runtime.run(settings, serve(settings))


if __name__ == "__main__":
    main()
