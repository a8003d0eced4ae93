"""Attachment storage, with the upload rules (size, type allow-list, content sniffing).

Files live in GridFS on the MongoDB-wire server, so every gateway instance can stream any of them back.
Events carry only the metadata and the reference.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.errors import NotFound, PayloadTooLarge, UnsupportedMediaType

# Magic numbers of the binary types we accept: the declared type must match what the bytes are.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
}
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@dataclass(frozen=True)
class StoredAttachment:
    attachment_id: str
    conversation_id: str
    tenant: str
    filename: str
    content_type: str
    size: int


def check_upload(
    *, content: bytes, content_type: str, filename: str, max_bytes: int, allowed: tuple[str, ...]
) -> str:
    """Returns the normalised content type, or raises the 4xx a client should see."""
    media_type = content_type.split(";")[0].strip().lower()
    if len(content) > max_bytes:
        raise PayloadTooLarge(f"'{filename}' is {len(content)} bytes; the limit is {max_bytes} bytes")
    if not content:
        raise UnsupportedMediaType(f"'{filename}' is empty")
    if media_type not in allowed:
        raise UnsupportedMediaType(f"'{filename}' has type {media_type!r}; allowed: {', '.join(allowed)}")
    signatures = _SIGNATURES.get(media_type)
    if signatures and not content.startswith(signatures):
        raise UnsupportedMediaType(f"'{filename}' is declared {media_type} but its content is not")
    if media_type.startswith("text/") and b"\x00" in content[:4096]:
        raise UnsupportedMediaType(f"'{filename}' is declared {media_type} but holds binary data")
    return media_type


class AttachmentStore:
    """Attachments in a GridFS bucket: any gateway instance can stream back a file another one stored."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], bucket: str = "attachments") -> None:
        self._bucket = AsyncGridFSBucket(db, bucket_name=bucket)
        self._files = db[f"{bucket}.files"]

    async def save(
        self,
        *,
        attachment_id: str,
        conversation_id: str,
        tenant: str,
        filename: str,
        content_type: str,
        content: bytes,
    ) -> StoredAttachment:
        file_id = ObjectId(attachment_id)
        metadata = {"conversation_id": conversation_id, "tenant": tenant, "content_type": content_type}
        await self._bucket.upload_from_stream_with_id(file_id, filename, content, metadata=metadata)
        return StoredAttachment(attachment_id, conversation_id, tenant, filename, content_type, len(content))

    async def describe(self, attachment_id: str) -> StoredAttachment:
        try:
            file_id = ObjectId(attachment_id)
        except (InvalidId, TypeError) as exc:
            raise NotFound(f"attachment {attachment_id} not found") from exc
        doc = await self._files.find_one({"_id": file_id})
        if doc is None:
            raise NotFound(f"attachment {attachment_id} not found")
        meta = doc.get("metadata") or {}
        return StoredAttachment(
            attachment_id,
            meta["conversation_id"],
            meta["tenant"],
            doc["filename"],
            meta["content_type"],
            doc["length"],
        )

    async def stream(self, attachment_id: str) -> AsyncIterator[bytes]:
        try:
            grid_out = await self._bucket.open_download_stream(ObjectId(attachment_id))
        except NoFile as exc:
            raise NotFound(f"attachment {attachment_id} not found") from exc
        while chunk := await grid_out.readchunk():
            yield chunk


def new_attachment_id() -> str:
    return str(ObjectId())
