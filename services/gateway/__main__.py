"""Run the gateway: `python -m services.gateway`."""

from __future__ import annotations

import uvicorn

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from shared.logging import configure_logging


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        loop=settings.event_loop,
    )


if __name__ == "__main__":
    main()
