"""Rebuild every view of every projection from the topics: `parley replay --prefix rebuild_`."""

from __future__ import annotations

from services.conversation.config import ConversationSettings
from services.conversation.views import rebuild_views as rebuild_conversation_views
from services.history.config import HistorySettings
from services.history.views import rebuild_views as rebuild_history_views
from services.webhooks.config import WebhooksSettings
from services.webhooks.views import rebuild_views as rebuild_webhook_views


async def replay_all(*, prefix: str, show_progress: bool = True) -> dict[str, int]:
    if not prefix:
        raise ValueError("a rebuild needs a non-empty prefix: it drops and rebuilds the prefixed collections")
    return {
        "conversation": await rebuild_conversation_views(
            ConversationSettings(), prefix=prefix, show_progress=show_progress
        ),
        "history": await rebuild_history_views(HistorySettings(), prefix=prefix, show_progress=show_progress),
        "webhooks": await rebuild_webhook_views(
            WebhooksSettings(), prefix=prefix, show_progress=show_progress
        ),
    }
