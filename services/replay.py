"""Rebuild every view of every projection from the topics: `parley replay --prefix rebuild_`."""

from __future__ import annotations

from services.conversation.config import ConversationSettings
from services.conversation.views import CONVERSATION_PROJECTION
from services.history.config import HistorySettings
from services.history.views import HISTORY_PROJECTION
from services.webhooks.config import WebhooksSettings
from services.webhooks.views import WEBHOOKS_PROJECTION
from shared.replay import rebuild_views


async def replay_all(*, prefix: str, show_progress: bool = True) -> dict[str, int]:
    if not prefix:
        raise ValueError("a rebuild needs a non-empty prefix: it drops and rebuilds the prefixed collections")
    return {
        projection.name: await rebuild_views(settings, projection, prefix=prefix, show_progress=show_progress)
        for settings, projection in (
            (ConversationSettings(), CONVERSATION_PROJECTION),
            (HistorySettings(), HISTORY_PROJECTION),
            (WebhooksSettings(), WEBHOOKS_PROJECTION),
        )
    }
