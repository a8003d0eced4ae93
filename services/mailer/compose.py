"""What each flow's email says, from the views (the mailer's MongoDB side): a conversation's transcript, a
teammate's one-time link to set a password. Each raises NotYet until the views have applied the request."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.conversation import queries as conversation_queries
from services.history import queries as history_queries
from services.mailer.config import MailerSettings
from services.mailer.domain import NotYet, PendingEmail, render_password_link, render_transcript
from services.mailer.smtp import build_message
from shared.mongo import Document
from shared.password_links import hash_link_token, link_path, link_token, link_voided


class TranscriptComposer:
    def __init__(self, settings: MailerSettings, db: AsyncDatabase[Document]) -> None:
        self.settings = settings
        self.conversations = db["conversations"]
        self.agents = db["agents"]
        self.summaries = db["history_conversations"]
        self.messages = db["history_messages"]

    async def __call__(self, email: PendingEmail) -> EmailMessage | None:
        """The email to send, or None for a request the conversation view refused (the visitor's cap)."""
        conversation = await conversation_queries.get_conversation(
            conversations=self.conversations, tenant=email.tenant, conversation_id=email.aggregate_id
        )
        summary = await self.summaries.find_one({"_id": email.aggregate_id})
        if conversation is None or summary is None:
            raise NotYet
        if conversation["position"] < email.offset or summary["position"] < email.offset:
            raise NotYet
        requests = conversation.get("transcript_emails") or []
        request = next((r for r in requests if r["request_id"] == email.request_id), None)
        if request is None or request["status"] == "refused":
            return None
        lines = await self._visible_lines(email)
        agent_ids = sorted(
            {str(a["id"]) for line in lines if (a := line.get("author") or {}).get("kind") == "agent"}
        )
        agents = await conversation_queries.agents_by_id(
            agents=self.agents, tenant=email.tenant, agent_ids=agent_ids
        )
        visitor = conversation.get("visitor") or {}
        transcript = render_transcript(
            lines=lines,
            visitor_name=visitor.get("name") or "You",
            agent_names={agent_id: agent["name"] for agent_id, agent in agents.items()},
            started_at=conversation["created_at"],
        )
        assert self.settings.smtp_sender is not None
        return build_message(transcript, sender=self.settings.smtp_sender, recipient=email.recipient)

    async def _visible_lines(self, email: PendingEmail) -> list[dict[str, Any]]:
        """Every line a visitor may see (never a note), up to the request, page by page."""
        lines: list[dict[str, Any]] = []
        after: int | None = None
        while True:
            page = await history_queries.list_messages(
                messages=self.messages,
                conversation_id=email.aggregate_id,
                include_internal=False,
                after_position=after,
                limit=history_queries.MAX_MESSAGES,
                tenant=email.tenant,
            )
            lines.extend(line for line in page if line["position"] < email.offset)
            if len(page) < history_queries.MAX_MESSAGES:
                return lines
            after = page[-1]["position"]


class PasswordLinkComposer:
    def __init__(self, settings: MailerSettings, db: AsyncDatabase[Document]) -> None:
        self.settings = settings
        # Only the derived link key is kept: nothing here handles the key that signs agents' tokens.
        self._link_key = settings.link_key()
        self.credentials = db["agent_credentials"]
        self.agents = db["agents"]

    async def __call__(self, email: PendingEmail) -> EmailMessage | None:
        """The link's email, or None once the link was used or replaced by a newer one (only the latest
        link of an account works: the older one is not worth an email any more), or the account was
        deactivated (its link no longer works)."""
        credentials = await conversation_queries.credentials_of_agent(
            credentials=self.credentials, tenant=email.tenant, agent_id=email.aggregate_id
        )
        agent = await conversation_queries.get_agent(
            agents=self.agents, tenant=email.tenant, agent_id=email.aggregate_id
        )
        if credentials is None or agent is None or credentials["position"] < email.offset:
            raise NotYet
        link = credentials.get("password_link") or {}
        if link.get("link_id") != email.request_id or link.get("used_at") is not None:
            return None
        if link_voided(link, agent):
            return None
        token = link_token(self._link_key, email.request_id)
        if hash_link_token(token) != credentials.get("link_token_hash"):
            # Not the token the supervisor was shown: this mailer's secret key differs from the gateway's.
            # Emailing it would send a dead link; the email stays pending until the configuration is fixed.
            raise RuntimeError(
                "the derived link token does not match the issued one: check PARLEY_SECRET_KEY"
            )
        rendered = render_password_link(
            name=agent["name"],
            url=self.settings.public_url.rstrip("/") + link_path(token),
            purpose=link["purpose"],
            expires_at=link["expires_at"],
        )
        assert self.settings.smtp_sender is not None
        return build_message(rendered, sender=self.settings.smtp_sender, recipient=email.recipient)
