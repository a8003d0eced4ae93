#!/usr/bin/env bash
# Starts every Parley service from the Procfile (infrastructure must be up: `make run` does both).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export PATH="$REPO_ROOT/.venv/bin:$PATH"
cd "$REPO_ROOT"

say "Creating topics and the demo team ..."
parley seed-demo
gateway_port="${PARLEY_GATEWAY_PORT:-8000}"
cat <<TXT

  Parley is starting:
    Agent dashboard    http://127.0.0.1:$gateway_port/
    Widget demo shop   http://127.0.0.1:$gateway_port/demo   (embed on any page: <script src="http://127.0.0.1:$gateway_port/widget.js" defer></script>)
    Agent API + docs   http://127.0.0.1:$gateway_port/docs   (gateway; health /healthz, readiness /readyz)
    Routing ops        http://127.0.0.1:${PARLEY_ROUTING_PORT:-6066}/healthz   /metrics
    Conversation ops   http://127.0.0.1:${PARLEY_CONVERSATION_PORT:-8001}/healthz   /metrics
    History ops        http://127.0.0.1:${PARLEY_HISTORY_PORT:-8002}/healthz   /metrics
    Webhooks ops       http://127.0.0.1:${PARLEY_WEBHOOKS_PORT:-8003}/healthz   /metrics   (endpoints: /docs, "agent: webhooks")
    Mailer ops         http://127.0.0.1:${PARLEY_MAILER_PORT:-8004}/healthz   /metrics   (transcripts by email: set PARLEY_SMTP_HOST, PARLEY_SMTP_SENDER)
    Kafka              $PARLEY_KAFKA_BOOTSTRAP
    MongoDB-wire       $PARLEY_MONGODB_URI
  Demo sign-in: sam@parley.test (supervisor), ann@parley.test, bob@parley.test; password parley-demo

  See a chat routed to an agent:
    1. Open http://127.0.0.1:$gateway_port/demo and write a message in the chat widget.
    2. Sign in at http://127.0.0.1:$gateway_port/ as ann@parley.test, password parley-demo
       (an agent becomes available on the first sign-in).
    3. The chat appears in Ann's chats.

  Ctrl-C stops the services, then the Kafka, FerretDB and PostgreSQL this run started.

TXT
exec honcho start -f Procfile
