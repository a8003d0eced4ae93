"""Streams an attachment back, only to an agent of its tenant or the visitor of its conversation."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse

from services.gateway.attachments import INLINE_TYPES
from services.gateway.auth import AgentPrincipal
from services.gateway.deps import AnyPrincipalDep, AttachmentsDep
from services.gateway.errors import NotFound

router = APIRouter(tags=["attachments"])


@router.get("/api/attachments/{attachment_id}", summary="Download an attachment")
async def download(
    attachment_id: Annotated[str, Path(min_length=1, max_length=100)],
    principal: AnyPrincipalDep,
    store: AttachmentsDep,
) -> StreamingResponse:
    stored = await store.describe(attachment_id)
    allowed = (
        stored.tenant == principal.tenant
        if isinstance(principal, AgentPrincipal)
        else stored.conversation_id == principal.conversation_id
    )
    if not allowed:
        raise NotFound(f"attachment {attachment_id} not found")  # 404, not 403: do not confirm it exists
    disposition = "inline" if stored.content_type in INLINE_TYPES else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.filename)}",
        "Content-Length": str(stored.size),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return StreamingResponse(store.stream(attachment_id), media_type=stored.content_type, headers=headers)
