"""Files in chats, for the visitor and agent routes alike: storing an upload, and resolving the files a
message refers to. Routes get an `Uploads` from `deps.UploadsDep`, or with the one dependency of a
chat message (deps/chat_messages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import UploadFile

from services.gateway import commands
from services.gateway.attachments import AttachmentStore, check_upload, new_attachment_id
from services.gateway.config import GatewaySettings
from services.gateway.errors import ApiError, NotFound
from services.gateway.publisher import EventPublisher
from shared.events import Actor
from shared.events.conversation import AttachmentRef, AttachmentUploaded


@dataclass(frozen=True)
class Uploads:
    settings: GatewaySettings
    store: AttachmentStore
    publisher: EventPublisher

    async def upload(self, file: UploadFile, *, conversation: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Stores the file if the conversation takes files, then records attachment.uploaded."""
        commands.check_attachment_allowed(conversation=conversation)
        # Read one byte past the limit: enough to refuse an oversized file without holding all of it.
        content = await file.read(self.settings.upload_max_bytes + 1)
        filename = (file.filename or "upload").replace("/", "_").replace("\\", "_")[:255]
        content_type = check_upload(
            content=content,
            content_type=file.content_type or "application/octet-stream",
            filename=filename,
            max_bytes=self.settings.upload_max_bytes,
            allowed=self.settings.upload_allowed_types,
        )
        stored = await self.store.save(
            attachment_id=new_attachment_id(),
            conversation_id=conversation["_id"],
            tenant=conversation["tenant"],
            filename=filename,
            content_type=content_type,
            content=content,
        )
        ref = {
            "attachment_id": stored.attachment_id,
            "filename": stored.filename,
            "content_type": stored.content_type,
            "size": stored.size,
        }
        event = AttachmentUploaded(
            tenant=conversation["tenant"], aggregate_id=conversation["_id"], actor=actor, payload=ref
        )
        appended = await self.publisher.append(event)
        return {**ref, "url": f"/api/attachments/{stored.attachment_id}", "event": appended.as_json()}

    async def attached(
        self, conversation: dict[str, Any], attachment_ids: list[str], text: str
    ) -> list[AttachmentRef]:
        """The files a message refers to, each uploaded to this very conversation."""
        if not attachment_ids and not text.strip():
            raise ApiError("a message needs text or at least one attachment")
        if attachment_ids:
            commands.check_attachment_allowed(conversation=conversation)
        refs = []
        for attachment_id in dict.fromkeys(attachment_ids):
            stored = await self.store.describe(attachment_id)
            if stored.conversation_id != conversation["_id"]:
                raise NotFound(f"attachment {attachment_id} not found in this conversation")
            refs.append(
                AttachmentRef(
                    attachment_id=stored.attachment_id,
                    filename=stored.filename,
                    content_type=stored.content_type,
                    size=stored.size,
                )
            )
        return refs
