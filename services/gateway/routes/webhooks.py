"""Supervisors manage webhook endpoints: register, list, change, rotate the secret, read the delivery log.

Every change is an event on the webhook-endpoints topic; the webhooks service projects them. A signing
secret appears once, in the response that created it (registration or rotation), and never again.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import Field

from services.gateway.auth import AgentPrincipal
from services.gateway.deps import DatabaseDep, PublisherDep, SettingsDep, SupervisorDep, WebhookEndpointDep
from services.gateway.errors import ApiError, NotFound
from services.gateway.publisher import EventPublisher
from services.gateway.schemas import Body, public
from services.webhooks import queries
from services.webhooks.config import WebhookTargetSettings
from services.webhooks.domain import DELIVERABLE_TYPES, NOTE_TYPE, unknown_event_types
from services.webhooks.targets import TargetPolicy, TargetRefused, vetted_address
from shared.events import webhook as webhook_events
from shared.events.envelope import Actor, new_id

router = APIRouter(prefix="/api/agent/webhooks", tags=["agent: webhooks"])
EventTypes = list[Annotated[str, Field(pattern=webhook_events.EVENT_TYPE_PATTERN, max_length=100)]]
# How long deliveries carry a signature with the previous secret after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)


class InvalidWebhook(ApiError, status_code=422, code="invalid_webhook"): ...


class RegisterEndpoint(Body):
    url: str = Field(min_length=8, max_length=2000, description="https:// URL that receives the POSTs.")
    event_types: EventTypes = Field(
        min_length=1, max_length=100, description="e.g. conversation.closed, conversation.*"
    )
    description: str = Field(default="", max_length=500)


class Replay(Body):
    since: datetime = Field(
        description="Every subscribed event from this time on is delivered again, in order."
    )


class UpdateEndpoint(Body):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: EventTypes | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="true resumes a disabled endpoint where it stopped."
    )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _by(agent: AgentPrincipal) -> dict[str, Any]:
    """Who a supervisor's change is recorded for; the publisher adds the request's correlation id."""
    return {"tenant": agent.tenant, "actor": Actor(kind="agent", id=agent.agent_id)}


def _target_policy(request: Request, settings: SettingsDep) -> TargetPolicy:
    policy: TargetPolicy | None = getattr(request.app.state, "webhook_targets", None)
    if policy is None:
        policy = WebhookTargetSettings(environment=settings.environment).target_policy()
        request.app.state.webhook_targets = policy
    return policy


async def _check(url: str, event_types: list[str] | None, policy: TargetPolicy) -> None:
    if event_types is not None and (unknown := unknown_event_types(event_types)):
        raise InvalidWebhook(
            f"unknown event types: {', '.join(unknown)}", details={"deliverable": sorted(DELIVERABLE_TYPES)}
        )
    try:
        await vetted_address(url, policy)
    except TargetRefused as exc:
        raise InvalidWebhook(f"refused webhook URL: {exc}") from exc


@router.get("/event-types", summary="Event types an endpoint may subscribe to")
async def event_types(agent: SupervisorDep) -> dict[str, Any]:
    return {
        "items": sorted(DELIVERABLE_TYPES),
        "explicit_only": [NOTE_TYPE],
        "wildcards": ["*", "conversation.*"],
    }


@router.post("", status_code=status.HTTP_201_CREATED, summary="Supervisors: register a webhook endpoint")
async def register_endpoint(
    body: RegisterEndpoint,
    agent: SupervisorDep,
    request: Request,
    settings: SettingsDep,
    publisher: PublisherDep,
) -> dict[str, Any]:
    await _check(body.url, body.event_types, _target_policy(request, settings))
    secret = new_secret()
    event = webhook_events.WebhookEndpointRegistered(
        **_by(agent),
        aggregate_id=new_id(),
        payload={**body.model_dump(), "event_types": list(dict.fromkeys(body.event_types)), "secret": secret},
    )
    appended = await publisher.append(event)
    return {
        "id": event.aggregate_id,
        "url": body.url,
        "event_types": event.payload.event_types,
        "description": body.description,
        "enabled": True,
        "secret": secret,
        "secret_note": "Shown once: store it now. Verify each delivery's webhook-signature with it.",
        "events": [appended.as_json()],
    }


@router.get("", summary="Supervisors: the webhook endpoints (never their secrets)")
async def list_endpoints(agent: SupervisorDep, db: DatabaseDep) -> dict[str, Any]:
    docs = await queries.list_endpoints(endpoints=db["webhook_endpoints"], tenant=agent.tenant)
    return {"items": [public(doc) for doc in docs]}


@router.get("/{endpoint_id}", summary="Supervisors: one webhook endpoint, with why it was disabled")
async def get_endpoint(endpoint: WebhookEndpointDep) -> dict[str, Any]:
    return public(endpoint)


@router.patch("/{endpoint_id}", summary="Supervisors: change URL, event types, description or enabled")
async def update_endpoint(
    endpoint: WebhookEndpointDep,
    body: UpdateEndpoint,
    agent: SupervisorDep,
    request: Request,
    settings: SettingsDep,
    publisher: PublisherDep,
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise ApiError("nothing to change: give url, event_types, description or enabled")
    await _check(body.url or endpoint["url"], body.event_types, _target_policy(request, settings))
    event = webhook_events.WebhookEndpointUpdated(
        **_by(agent),
        aggregate_id=endpoint["_id"],
        payload=changes,
    )
    return {"events": [(await publisher.append(event)).as_json()]}


@router.post("/{endpoint_id}/rotate-secret", summary="Supervisors: a new signing secret (shown once)")
async def rotate_secret(
    endpoint: WebhookEndpointDep,
    agent: SupervisorDep,
    publisher: PublisherDep,
) -> dict[str, Any]:
    secret = new_secret()
    valid_until = datetime.now(UTC) + ROTATION_OVERLAP
    event = webhook_events.WebhookSecretRotated(
        **_by(agent),
        aggregate_id=endpoint["_id"],
        payload={"secret": secret, "previous_secret_valid_until": valid_until},
    )
    appended = await publisher.append(event)
    return {"secret": secret, "previous_secret_valid_until": valid_until, "events": [appended.as_json()]}


@router.get("/{endpoint_id}/deliveries", summary="Supervisors: the endpoint's delivery log, newest first")
async def deliveries(
    endpoint: WebhookEndpointDep,
    agent: SupervisorDep,
    db: DatabaseDep,
    outcome: Literal["delivered", "retrying", "dead_lettered"] | None = None,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_DELIVERIES)] = 50,
) -> dict[str, Any]:
    docs = await queries.list_deliveries(
        deliveries=db["webhook_deliveries"],
        tenant=agent.tenant,
        endpoint_id=endpoint["_id"],
        outcome=outcome,
        before=before,
        limit=limit,
    )
    return {"items": [public(doc) for doc in docs]}


@router.post(
    "/{endpoint_id}/replay", summary="Supervisors: deliver again every subscribed event since a time"
)
async def replay(
    endpoint: WebhookEndpointDep,
    body: Replay,
    agent: SupervisorDep,
    publisher: PublisherDep,
) -> dict[str, Any]:
    if body.since.tzinfo is None:
        raise ApiError("since needs a time zone, e.g. 2026-01-01T00:00:00Z")
    return await _request_redelivery(publisher, agent, endpoint["_id"], since=body.since)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/resend", summary="Supervisors: send one delivery again")
async def resend(
    endpoint: WebhookEndpointDep,
    delivery_id: Annotated[str, Path(min_length=1, max_length=100)],
    agent: SupervisorDep,
    db: DatabaseDep,
    publisher: PublisherDep,
) -> dict[str, Any]:
    line = await db["webhook_deliveries"].find_one(
        {"_id": delivery_id, "endpoint_id": endpoint["_id"], "tenant": agent.tenant}
    )
    if line is None:
        raise NotFound(f"delivery {delivery_id} not found for this endpoint")
    if line.get("source_offset") is None:
        raise ApiError("this delivery was logged before deliveries could be sent again; use replay")
    return await _request_redelivery(
        publisher,
        agent,
        endpoint["_id"],
        source_partition=line["source_partition"],
        source_offset=line["source_offset"],
    )


async def _request_redelivery(
    publisher: EventPublisher, agent: AgentPrincipal, endpoint_id: str, **wanted: Any
) -> dict[str, Any]:
    event = webhook_events.WebhookRedeliveryRequested(
        **_by(agent),
        aggregate_id=endpoint_id,
        payload=wanted,
    )
    return {"events": [(await publisher.append(event)).as_json()]}
