"""A visitor coming back to a chat closed so long ago that the router no longer keeps it."""

from __future__ import annotations

import pytest

from services.routing import policy
from tests.unit.routing_desk import Desk


def forgetful_desk(monkeypatch: pytest.MonkeyPatch, closed_kept: int) -> Desk:
    """A desk with one agent, ann (one chat at a time), whose router keeps `closed_kept` closed chats."""
    monkeypatch.setattr(policy, "CLOSED_CONVERSATIONS_KEPT", closed_kept)
    desk = Desk()
    desk.agent("ann", max_chats=1)
    return desk


def test_a_chat_reopened_after_the_router_forgot_it_is_routed_like_a_new_arrival(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = forgetful_desk(monkeypatch, closed_kept=2)
    desk.start("old", department="sales")
    desk.close("old")
    for cid in ("c1", "c2", "c3"):  # three later chats closed: "old" is forgotten
        desk.start(cid)
        desk.close(cid)
    assert "old" not in desk.state.conversations
    assert desk.reopen("old") == [("old", "assigned", "ann", "reopened")]
    # It holds ann's seat like any open chat: the next visitor waits.
    assert desk.start("c4") == [("c4", "queued", "#1", "no_agent_available")]
    desk.close("old")
    assert desk.state.conversations.shared("c4")["assignee"] == "ann"


def test_a_forgotten_chat_reopened_while_everyone_is_busy_waits_in_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = forgetful_desk(monkeypatch, closed_kept=0)
    desk.start("old")
    desk.close("old")
    desk.start("c1")  # ann is busy
    assert desk.reopen("old") == [("old", "queued", "#1", "reopened")]
