"""Run the router: `python -m services.routing`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust

from services.routing.app import create_app
from services.routing.config import RoutingSettings
from shared import runtime
from shared.kafka import ensure_topics
from shared.logging import configure_logging


def main() -> None:
    settings = RoutingSettings()
    configure_logging(settings)
    # faust creates its changelog and assignor topics but not the topics it reads, and the broker does
    # not auto-create them; the worker then reuses this loop.
    loop = runtime.new_event_loop(settings)
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings))
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = create_app(settings)
    worker = faust.Worker(
        app,
        loop=loop,
        loglevel=settings.log_level,
        quiet=True,  # no startup banner: stdout carries one log format only
        # Keep shared.logging's handlers: mode would otherwise replace them with its own.
        override_logging=False,
        redirect_stdouts=False,
    )
    worker.spinner = None  # it writes terminal escapes even when quiet
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
