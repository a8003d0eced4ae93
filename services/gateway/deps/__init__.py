"""The only home of FastAPI `Depends` (this package): everything a route needs comes from here.

Every dependency is `async def`, also those that await nothing: FastAPI runs plain `def` dependencies in a thread
pool, and those hops cost more than the work itself on the hot path (seen in py-spy profiles of the bench).
The `get_*` functions read what the lifespan put on `app.state`; in-process tests put fakes there.

The modules: `state` (app state, views), `principals` (tokens, publisher, rate limits, origin check),
`documents` (the conversation or teammate a request is about), `fresh_reads` (read your own writes), and
`chat_messages`: the routes every chat message goes through, each resolved as ONE dependency that calls
the helpers of the others (FastAPI solves every node of a tree on every request, cached or not).

A dependency that loads a document (ConversationDep, MyProfileDep, TeammateDep) answers 404 for an unknown
one before FastAPI validates the route's own body and query parameters.
"""

from __future__ import annotations

from services.gateway.deps.chat_messages import (
    BEARER_DOCS as BEARER_DOCS,
)
from services.gateway.deps.chat_messages import (
    AgentConversationWriteDep as AgentConversationWriteDep,
)
from services.gateway.deps.chat_messages import (
    ChatStartDep as ChatStartDep,
)
from services.gateway.deps.chat_messages import (
    VisitorConversationReadDep as VisitorConversationReadDep,
)
from services.gateway.deps.chat_messages import (
    VisitorWriteDep as VisitorWriteDep,
)
from services.gateway.deps.documents import (
    ChatActionDep as ChatActionDep,
)
from services.gateway.deps.documents import (
    ConversationDep as ConversationDep,
)
from services.gateway.deps.documents import (
    MessagesPageDep as MessagesPageDep,
)
from services.gateway.deps.documents import (
    MyProfileDep as MyProfileDep,
)
from services.gateway.deps.documents import (
    SupervisorDep as SupervisorDep,
)
from services.gateway.deps.documents import (
    TeammateAccountDep as TeammateAccountDep,
)
from services.gateway.deps.documents import (
    TeammateDep as TeammateDep,
)
from services.gateway.deps.documents import (
    TeamMemberDep as TeamMemberDep,
)
from services.gateway.deps.documents import (
    VisitorConversationDep as VisitorConversationDep,
)
from services.gateway.deps.documents import (
    WebhookEndpointDep as WebhookEndpointDep,
)
from services.gateway.deps.fresh_reads import (
    FreshAgents as FreshAgents,
)
from services.gateway.deps.fresh_reads import (
    FreshCanned as FreshCanned,
)
from services.gateway.deps.fresh_reads import (
    FreshConversations as FreshConversations,
)
from services.gateway.deps.fresh_reads import (
    FreshDepartments as FreshDepartments,
)
from services.gateway.deps.fresh_reads import (
    FreshHistory as FreshHistory,
)
from services.gateway.deps.fresh_reads import (
    VisitorFreshHistory as VisitorFreshHistory,
)
from services.gateway.deps.principals import (
    AgentDep as AgentDep,
)
from services.gateway.deps.principals import (
    AnyPrincipalDep as AnyPrincipalDep,
)
from services.gateway.deps.principals import (
    ClientAddressDep as ClientAddressDep,
)
from services.gateway.deps.principals import (
    PublisherDep as PublisherDep,
)
from services.gateway.deps.principals import (
    SignInAddressLimit as SignInAddressLimit,
)
from services.gateway.deps.principals import (
    SocketAgentDep as SocketAgentDep,
)
from services.gateway.deps.principals import (
    SocketVisitorDep as SocketVisitorDep,
)
from services.gateway.deps.principals import (
    TokenDep as TokenDep,
)
from services.gateway.deps.principals import (
    UploadsDep as UploadsDep,
)
from services.gateway.deps.principals import (
    VisitorDep as VisitorDep,
)
from services.gateway.deps.principals import (
    VisitorUploadLimit as VisitorUploadLimit,
)
from services.gateway.deps.principals import (
    get_current_agent as get_current_agent,
)
from services.gateway.deps.principals import (
    get_current_visitor as get_current_visitor,
)
from services.gateway.deps.principals import (
    get_publisher as get_publisher,
)
from services.gateway.deps.state import (
    AttachmentsDep as AttachmentsDep,
)
from services.gateway.deps.state import (
    CredentialRecordDep as CredentialRecordDep,
)
from services.gateway.deps.state import (
    DatabaseDep as DatabaseDep,
)
from services.gateway.deps.state import (
    HubDep as HubDep,
)
from services.gateway.deps.state import (
    ProducerDep as ProducerDep,
)
from services.gateway.deps.state import (
    RateLimitsDep as RateLimitsDep,
)
from services.gateway.deps.state import (
    SettingsDep as SettingsDep,
)
from services.gateway.deps.state import (
    Views as Views,
)
from services.gateway.deps.state import (
    ViewsDep as ViewsDep,
)
from services.gateway.deps.state import (
    get_attachments as get_attachments,
)
from services.gateway.deps.state import (
    get_credential_record as get_credential_record,
)
from services.gateway.deps.state import (
    get_hub as get_hub,
)
from services.gateway.deps.state import (
    get_rate_limits as get_rate_limits,
)
from services.gateway.deps.state import (
    get_settings as get_settings,
)
from services.gateway.deps.state import (
    get_views as get_views,
)
