"""The rate limiter and the client address as pure functions: a fake clock, no sleeps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.gateway.config import GatewaySettings
from services.gateway.rate_limits import (
    LIMIT_NAMES,
    FixedWindowLimiter,
    Rate,
    RateLimits,
    client_address,
    retry_after_header,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_requests_pass_then_the_rest_wait_until_the_window_ends() -> None:
    clock = Clock()
    limiter = FixedWindowLimiter(Rate(3, 60), clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    clock.now += 10
    assert limiter.hit("a") == pytest.approx(50)
    assert limiter.hit("b") is None  # another client is not affected
    clock.now += 50
    assert limiter.hit("a") is None  # a new window


def test_refused_requests_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = FixedWindowLimiter(Rate(1, 10), clock=clock)
    limiter.hit("a")
    for _ in range(100):
        limiter.hit("a")
    clock.now += 10
    assert limiter.hit("a") is None


def test_memory_is_bounded_and_expired_keys_are_dropped() -> None:
    clock = Clock()
    limiter = FixedWindowLimiter(Rate(1, 10), clock=clock, max_keys=100)
    for n in range(1000):
        limiter.hit(f"address-{n}")
    assert len(limiter) == 100
    clock.now += 11
    for _ in range(60):
        limiter.hit("again")
    assert len(limiter) < 100


@pytest.mark.parametrize(
    ("text", "rate"), [("20/60", Rate(20, 60)), (" 5/0.5 ", Rate(5, 0.5)), (Rate(1, 1), Rate(1, 1))]
)
def test_a_rate_is_count_per_seconds(text: object, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["20", "0/60", "5/0", "a/b", "1/2/3"])
def test_a_bad_rate_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"COUNT/SECONDS|count of 1"):
        Rate.parse(text)


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2, 59.9)] == ["1", "1", "2", "60"]


def test_the_forwarded_address_counts_only_behind_a_trusted_proxy() -> None:
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"
    assert client_address("10.0.0.2", "198.51.100.1", ("10.0.0.1",)) == "10.0.0.2"
    # Behind the proxy: the rightmost address it did not add; what the client wrote on the left is ignored.
    assert client_address("10.0.0.1", "1.2.3.4, 198.51.100.1", ("10.0.0.1",)) == "198.51.100.1"
    assert client_address("10.0.0.1", "198.51.100.1, 10.0.0.3", ("10.0.0.1", "10.0.0.3")) == "198.51.100.1"
    assert client_address("10.0.0.1", None, ("10.0.0.1",)) == "10.0.0.1"
    assert client_address(None, None, ()) == "unknown"


def test_refusals_are_counted_per_limit_and_nothing_is_refused_when_disabled() -> None:
    rates = dict.fromkeys(LIMIT_NAMES, Rate(1, 60))
    limits = RateLimits(rates, enabled=True, clock=Clock())
    assert limits.hit("messages_per_visitor", "v") is None
    assert limits.hit("messages_per_visitor", "v") is not None
    assert limits.refused["messages_per_visitor"] == 1
    assert limits.refused["conversation_starts_per_address"] == 0
    off = RateLimits(rates, enabled=False, clock=Clock())
    assert all(off.hit("messages_per_visitor", "v") is None for _ in range(10))


def test_trusted_proxies_may_be_networks_and_a_bad_one_fails_at_start() -> None:
    assert client_address("10.1.2.3", "198.51.100.1, 10.9.9.9", ("10.0.0.0/8",)) == "198.51.100.1"
    assert client_address("fd00::1", "2001:db8::7", ("fd00::/8",)) == "2001:db8::7"
    with pytest.raises(ValidationError, match="trusted_proxies"):
        GatewaySettings(trusted_proxies=("not-an-address",))
