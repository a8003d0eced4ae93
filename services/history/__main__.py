"""Run the history projection: `python -m services.history`.

Rebuild its views from the topic into fresh collections: `python -m services.history replay --prefix rebuild_`.
The live collections are left alone; once the rebuild has caught up, point the readers at it (or rename).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from services.history.config import HistorySettings
from services.history.views import HISTORY_PROJECTION
from shared import runtime
from shared.logging import configure_logging
from shared.replay import rebuild_views
from shared.service import run_projection_service


async def serve(settings: HistorySettings) -> None:
    await run_projection_service(
        settings=settings, projection=HISTORY_PROJECTION, ops_port=settings.port, ops_host=settings.host
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.history")
    commands = parser.add_subparsers(dest="command")
    rebuild = commands.add_parser("replay", help="rebuild the views from the topic into fresh collections")
    rebuild.add_argument("--prefix", required=True, help="collection name prefix, e.g. rebuild_")
    rebuild.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args(argv)

    settings = HistorySettings()
    configure_logging(settings)
    if args.command == "replay":
        if not args.prefix:
            parser.error("--prefix must not be empty: the replay drops its target collections first")
        replay = rebuild_views(
            settings, HISTORY_PROJECTION, prefix=args.prefix, show_progress=not args.no_progress
        )
        runtime.run(settings, replay)
    else:
        runtime.run(settings, serve(settings))


if __name__ == "__main__":
    main()
