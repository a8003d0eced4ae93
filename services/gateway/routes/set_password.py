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
    account = None
    if found is not None:
        account = await conversation_queries.get_agent(
            agents=views.agents, tenant=found["tenant"], agent_id=found["agent_id"]
        )
        team_commands.require_email_free(
            email_in_use=await conversation_queries.email_taken_by_another(
                credentials=views.credentials, email=found["email"], agent_id=found["agent_id"]
            )
        )
    # No await from here to the claim: a second request on this instance finds the link used.
    link = team_commands.usable_password_link(
        link=found,
        used=found is not None and record.link_used(found["link_id"]),
        account=account,
        deactivated=found is not None and record.is_deactivated(found["agent_id"], account),
        now=datetime.now(UTC),
    )
    record.claim_link(link["link_id"])
    try:
        events = team_commands.set_password_with_link(link=link, password_hash=hash_password(body.password))
        appended = await publisher.append_all(*events)
        for event in events:  # a second use is refused at once, before the view shows this one
            record.apply(event)
    finally:
        record.release_link(link["link_id"])
    return {"email": link["email"], "events": [a.as_json() for a in appended]}
