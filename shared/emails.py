"""An email address as accounts are keyed, stored and found by it: one spelling per address (case and
surrounding spaces do not make another account)."""

from __future__ import annotations


def normalized_email(email: str) -> str:
    return email.strip().lower()
