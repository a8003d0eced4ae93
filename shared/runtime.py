"""How every service runs its asyncio loop: the one chosen by `ParleySettings.event_loop`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

from shared.settings import ParleySettings

T = TypeVar("T")


def new_event_loop(settings: ParleySettings) -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if settings.event_loop == "uvloop" else asyncio.new_event_loop()


def run(settings: ParleySettings, main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the chosen loop."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(settings)) as runner:
        return runner.run(main)
