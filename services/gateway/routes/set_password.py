"""The one-time link an invitation or a password reset hands to a teammate: the page at `/set-password`
(the token in the URL's fragment) posts the token and the new password here. Public, so rate limited per
client address like sign-in; a link works once, and only until it expires or a newer one is issued."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from services.conversation import queries as conversation_queries
from services.gateway import team_commands
from services.gateway.auth import hash_password
from services.gateway.deps import CredentialRecordDep, PublisherDep, SignInAddressLimit, ViewsDep
from services.gateway.schemas import SetPassword
from shared.password_links import hash_link_token

router = APIRouter(prefix="/api/set-password", tags=["agent: sign-in"])


@router.post("", summary="Set a password with a one-time link's token", dependencies=[SignInAddressLimit])
async def set_password(
    body: SetPassword, views: ViewsDep, publisher: PublisherDep, record: CredentialRecordDep
) -> dict[str, Any]:
    token_hash = hash_link_token(body.token)
    in_view = await conversation_queries.credentials_by_link_token(
        credentials=views.credentials, token_hash=token_hash
    )
    found = record.password_link(token_hash, in_view)
    link = team_commands.usable_password_link(
        link=found, used=found is not None and record.link_used(found["link_id"]), now=datetime.now(UTC)
    )
    event = team_commands.set_password_with_link(link=link, password_hash=hash_password(body.password))
    appended = await publisher.append(event)
    record.apply(event)  # a second use of the link is refused at once, before the view shows this one
    return {"email": event.payload.email, "events": [appended.as_json()]}
