"""Who may have a conversation's transcript emailed, and how often: one rule for the gateway, which answers
the request, and the conversation view, which records each request's fate so the mailer obeys it even when
requests raced past the gateway's check of a view that had not caught up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# A visitor asks from the widget: a small cap keeps the widget from being a way to email anybody, often.
VISITOR_REQUESTS_PER_CONVERSATION = 3


def visitor_requests(emails: Iterable[Mapping[str, Any]]) -> int:
    """How many of a conversation's transcript emails the visitor asked for (refused ones included)."""
    return sum(1 for email in emails if email["requested_by"] == "visitor")


def visitor_requests_left(emails: Iterable[Mapping[str, Any]]) -> int:
    return max(0, VISITOR_REQUESTS_PER_CONVERSATION - visitor_requests(emails))
