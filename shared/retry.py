"""When to try again after a failed call to the outside world: one schedule shape for every service that
calls out with retries (webhook deliveries, transcript emails). Pure: the caller passes the clock and rng."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

JITTER = 0.1  # each delay varies by up to ±10%, so calls that failed together do not retry together


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    delays_seconds: tuple[float, ...]
    every_seconds: float  # after the listed delays, this one repeats
    give_up_after_seconds: float
    time_scale: float = 1.0  # tests compress the whole schedule, e.g. 0.0001
    jitter: float = JITTER

    def scaled(self, time_scale: float) -> RetryPolicy:
        """The same schedule with every delay multiplied by `time_scale` (tests compress it)."""
        return replace(self, time_scale=time_scale)

    def nominal_delay(self, failed_attempt: int) -> float:
        """Seconds between attempt `failed_attempt` (1 = the first) and the next, before jitter."""
        index = failed_attempt - 1
        base = self.delays_seconds[index] if index < len(self.delays_seconds) else self.every_seconds
        return base * self.time_scale

    def elapsed_before(self, attempt: int) -> float:
        """Nominal seconds from the first attempt to attempt number `attempt`."""
        return sum(self.nominal_delay(n) for n in range(1, attempt))

    def max_attempts(self) -> int:
        attempts = 1
        while self.elapsed_before(attempts + 1) <= self.give_up_after_seconds * self.time_scale:
            attempts += 1
        return attempts

    def next_attempt_at(self, failed_attempt: int, now: datetime, rng: random.Random) -> datetime | None:
        """When to try again after a failed attempt; None once the schedule is spent."""
        if failed_attempt >= self.max_attempts():
            return None
        delay = self.nominal_delay(failed_attempt) * (1 + rng.uniform(-self.jitter, self.jitter))
        return now + timedelta(seconds=delay)
