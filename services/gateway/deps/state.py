"""What the lifespan in app.py put on app.state, as dependencies, and the views the gateway reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import HTTPConnection

from services.gateway.attachments import AttachmentStore
from services.gateway.config import GatewaySettings
from services.gateway.credential_record import CredentialRecord
from services.gateway.live_hub import LiveHub
from services.gateway.rate_limits import RateLimits

Collection = AsyncCollection[dict[str, Any]]

# What the lifespan in app.py put on app.state; the Annotated aliases below give each its type.


def _app_state(attribute: str) -> Callable[[HTTPConnection], Awaitable[Any]]:
    async def dependency(connection: HTTPConnection) -> Any:
        return getattr(connection.app.state, attribute)

    dependency.__name__ = f"get_{attribute}"
    return dependency


get_settings = _app_state("settings")
_producer = _app_state("producer")
_db = _app_state("db")
get_attachments = _app_state("attachments")
get_hub = _app_state("hub")
get_views = _app_state("views")
get_credential_record = _app_state("credential_record")
get_rate_limits = _app_state("rate_limits")


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
CredentialRecordDep = Annotated[CredentialRecord, Depends(get_credential_record)]
RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(_producer)]
DatabaseDep = Annotated[AsyncDatabase[dict[str, Any]], Depends(_db)]
AttachmentsDep = Annotated[AttachmentStore, Depends(get_attachments)]


class Views:
    """The view collections the gateway reads; it never writes them."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.conversations: Collection = db["conversations"]
        self.agents: Collection = db["agents"]
        self.credentials: Collection = db["agent_credentials"]
        self.canned: Collection = db["canned_responses"]
        self.departments: Collection = db["departments"]
        self.messages: Collection = db["history_messages"]
        self.history: Collection = db["history_conversations"]


ViewsDep = Annotated[Views, Depends(get_views)]
ViewOf = Callable[[Views], Collection]
