"""Run the mailer: `python -m services.mailer`.

It emails conversation transcripts that visitors and agents ask for, over the configured SMTP server,
retrying from Kafka, and records each attempt's outcome on the conversation.
"""

from __future__ import annotations

from services.mailer.config import MailerSettings
from services.mailer.service import run
from shared.logging import configure_logging


def main() -> None:
    settings = MailerSettings()
    configure_logging(settings)
    run(settings)


if __name__ == "__main__":
    main()
