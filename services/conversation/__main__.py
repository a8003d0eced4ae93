"""`python -m services.conversation` runs the projection; `... replay [--prefix P]` rebuilds its views."""

from __future__ import annotations

import argparse

from services.conversation.config import ConversationSettings
from services.conversation.views import CONVERSATION_PROJECTION
from shared import runtime
from shared.logging import configure_logging
from shared.replay import rebuild_views
from shared.service import run_projection_service


async def serve(settings: ConversationSettings) -> None:
    await run_projection_service(
        settings=settings, projection=CONVERSATION_PROJECTION, ops_port=settings.port, ops_host=settings.host
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.conversation")
    sub = parser.add_subparsers(dest="command")
    replay_parser = sub.add_parser("replay", help="rebuild the views from the topics into fresh collections")
    replay_parser.add_argument(
        "--prefix", default="rebuild_", help="collection name prefix for the rebuilt views"
    )
    args = parser.parse_args()
    settings = ConversationSettings()
    configure_logging(settings)
    if args.command == "replay":
        runtime.run(settings, rebuild_views(settings, CONVERSATION_PROJECTION, prefix=args.prefix))
    else:
        runtime.run(settings, serve(settings))


if __name__ == "__main__":
    main()
