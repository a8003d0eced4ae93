"""Rate limits on the public paths: ephemeral counters, not domain state, so they live in each gateway
instance's memory (as Chatwoot's rack-attack lives in one Redis): with N instances behind a balancer a
client gets up to N times a limit. The pure part (`FixedWindowLimiter`) takes its clock as an argument.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Annotated

from pydantic import BeforeValidator
from pydantic_settings import NoDecode

from services.gateway.errors import TooManyRequests

Clock = Callable[[], float]
KEYS_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` requests per `seconds`, e.g. `Rate.parse("20/60")`."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, value: object) -> Rate:
        if isinstance(value, Rate):
            return value
        text = str(value).strip()
        try:
            count, seconds = text.split("/")
            rate = cls(int(count), float(seconds))
        except ValueError as exc:
            raise ValueError(f"a rate is COUNT/SECONDS, e.g. 20/60, not {text!r}") from exc
        if rate.count < 1 or rate.seconds <= 0:
            raise ValueError(f"a rate needs a count of 1+ and a window of more than 0 s, not {text!r}")
        return rate

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}"


# A setting's type: "COUNT/SECONDS" in the environment (not JSON, which pydantic-settings would expect).
RateSetting = Annotated[Rate, NoDecode, BeforeValidator(Rate.parse)]


class FixedWindowLimiter:
    """Counts requests per key in windows that start with a key's first request.

    `hit` answers None (allowed, and counted) or the seconds until the key's window ends (refused, not
    counted). Memory is bounded: expired keys are dropped as they are met, and beyond `max_keys` the key
    touched longest ago is forgotten (its client gets a fresh window, the safe side for memory)."""

    def __init__(self, rate: Rate, *, clock: Clock = time.monotonic, max_keys: int = KEYS_KEPT) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, key: str) -> float | None:
        now = self._clock()
        self._drop_expired(now)
        started, count = self._windows.pop(key, (now, 0))
        if now - started >= self.rate.seconds:
            started, count = now, 0
        if count >= self.rate.count:
            self._windows[key] = (started, count)
            return started + self.rate.seconds - now
        self._windows[key] = (started, count + 1)
        if len(self._windows) > self._max_keys:
            self._windows.popitem(last=False)
        return None

    def _drop_expired(self, now: float) -> None:
        # Keys are in order of last touch; a few of the oldest go per call, so the cost stays flat.
        for _ in range(2):
            if not self._windows:
                return
            key, (started, _count) = next(iter(self._windows.items()))
            if now - started < self.rate.seconds:
                return
            del self._windows[key]


def retry_after_header(seconds: float) -> str:
    """Whole seconds, never 0: a client told to retry at once would hit the same window."""
    return str(max(1, math.ceil(seconds)))


@lru_cache(maxsize=8)
def proxy_networks(trusted_proxies: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    """Addresses or networks (`10.0.0.0/8`); ValueError for anything else."""
    return tuple(ip_network(proxy, strict=False) for proxy in trusted_proxies)


def _is_trusted(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[str, ...]) -> str:
    """The address a request came from. X-Forwarded-For is read only when the direct peer is a trusted
    proxy, and then from the right: the first address no trusted proxy added is the client's (anything to
    its left the client could have written itself)."""
    address = peer or "unknown"
    networks = proxy_networks(trusted_proxies)
    if not forwarded_for or not _is_trusted(address, networks):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if not _is_trusted(hop, networks):
            return hop[:100]
    return address


LIMIT_NAMES = (
    "conversation_starts_per_address",
    "messages_per_visitor",
    "messages_per_address",
    "uploads_per_visitor",
    "uploads_per_address",
    "sign_ins_per_address",
    "sign_ins_per_account",
)


class RateLimits:
    """One limiter per named limit (`LIMIT_NAMES`), and how many requests each refused (for /metrics)."""

    def __init__(self, rates: dict[str, Rate], *, enabled: bool, clock: Clock = time.monotonic) -> None:
        self.enabled = enabled
        self._limiters = {name: FixedWindowLimiter(rates[name], clock=clock) for name in LIMIT_NAMES}
        self.refused: dict[str, int] = dict.fromkeys(LIMIT_NAMES, 0)

    def enforce(self, what: str, *checks: tuple[str, str]) -> None:
        """Each (limit name, key) in turn; the first over its limit refuses the request with a 429 that says
        `what` happened and how long to wait."""
        for name, key in checks:
            wait = self.hit(name, key)
            if wait is not None:
                seconds = retry_after_header(wait)
                message = f"{what}; please wait {seconds} s and try again."
                raise TooManyRequests(message, retry_after=int(seconds))

    def hit(self, name: str, key: str) -> float | None:
        """None when the request may go on; else the seconds to wait (the refusal is counted)."""
        if not self.enabled:
            return None
        wait = self._limiters[name].hit(key)
        if wait is not None:
            self.refused[name] += 1
        return wait
