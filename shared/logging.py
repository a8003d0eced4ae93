"""structlog set-up for every service: JSON when stdout is not a terminal, a console renderer otherwise.

Standard-library loggers (aiokafka, faust, uvicorn, pymongo) are routed through the same processors, so
one service writes one log format. Per-event context (tenant, conversation, partition, offset) is bound
with `bind_event_context` and travels in context variables.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from shared.settings import ParleySettings

EVENT_CONTEXT_KEYS = ("tenant", "conversation_id", "partition", "offset")

# Libraries that log chattily at INFO; their warnings still come through.
_QUIET_LIBRARIES = ("aiokafka", "kafka", "pymongo", "faust", "mode", "uvicorn.access")


def configure_logging(settings: ParleySettings) -> None:
    """Every service's one logging set-up, from the settings all of them share."""
    render_json = settings.log_format == "json" or (settings.log_format == "auto" and not sys.stdout.isatty())
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if render_json else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if render_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(settings.library_log_level.upper())
    # uvicorn installs its own handlers; hand its records to the root handler instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=settings.service_name)


def _identity(_: Any, __: str, event_dict: Any) -> Any:
    return event_dict


@contextmanager
def bind_event_context(**context: Any) -> Iterator[None]:
    """Bind tenant / conversation / partition / offset for the logs written while handling one event."""
    values = {key: value for key, value in context.items() if value is not None}
    with structlog.contextvars.bound_contextvars(**values):
        yield


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
