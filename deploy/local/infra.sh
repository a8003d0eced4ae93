#!/usr/bin/env bash
# Starts, stops and inspects the local Kafka broker, FerretDB server and the PostgreSQL cluster FerretDB stores in.
# Usage: infra.sh up|down [kafka|ferretdb|postgres]...|status|reset|restart-kafka|restart-ferretdb|restart-postgres
# Processes are tracked by the PID recorded at start and stopped by that PID only.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_PID="$RUN_DIR/kafka.pid"
FERRETDB_PID="$RUN_DIR/ferretdb.pid"
POSTGRES_PID="$RUN_DIR/postgres.pid"

write_kafka_config() {
  mkdir -p "$KAFKA_DATA"
  cat > "$KAFKA_HOME/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
}

# Every Kafka command's JVM. C1 only (TieredStopAtLevel=1): the local broker lives for a session, and its
# JIT warm-up is what a fresh `make bench-quick` measured. Over a bench's first 90 s on 2 cores, JFR put the C2
# compiler thread at 37% of the broker's CPU, and Kafka cost 13.7 ms of CPU per chat message at 50 msg/s
# (5 once warm, minutes later). C1 alone: 5-6 ms from the start, and the same cost as C2 at 400 msg/s.
# shellcheck disable=SC2206 # KAFKA_HEAP holds several options
KAFKA_JAVA=(java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1
  -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" -cp "$KAFKA_HOME/libs/*")

start_kafka() {
  if pid_alive "$KAFKA_PID"; then say "Kafka already running (pid $(cat "$KAFKA_PID"))"; return; fi
  write_kafka_config
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    local cluster_id
    # A random base64url id; one starting with "-" would be read as an option by the storage tool (1 run in
    # 64 failed so), so draw again until it does not.
    cluster_id="$("$PYTHON" -c '
import base64, os
while (cluster_id := base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")).startswith("-"):
    pass
print(cluster_id)')"
    say "Formatting Kafka storage (cluster $cluster_id) ..."
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$KAFKA_HOME/server.properties" \
      > "$LOG_DIR/kafka-format.log" 2>&1 || { tail -20 "$LOG_DIR/kafka-format.log"; fail "Kafka storage format failed"; }
  fi
  say "Starting Kafka on $KAFKA_HOST:$KAFKA_PORT ..."
  "${IN_OWN_SESSION[@]}" "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_HOME/server.properties" \
    < /dev/null >> "$LOG_DIR/kafka.log" 2>&1 &
  echo $! > "$KAFKA_PID"
}

# PostgreSQL refuses to run as root: when we are root, the cluster's commands run as its owner, the postgres
# system user. setpriv execs in place (runuser would fork), so a backgrounded server's $! is the postmaster.
AS_OWNER=()
[ "$(id -u)" -ne 0 ] || AS_OWNER=(setpriv "--reuid=$POSTGRES_OS_USER" "--regid=$POSTGRES_OS_USER" --init-groups --)

init_postgres() {
  # A cluster of our own under .local: loopback only, so trust authentication is enough.
  [ -f "$POSTGRES_DATA/PG_VERSION" ] && return
  [ -x "$POSTGRES_BIN/initdb" ] || fail "PostgreSQL $POSTGRES_VERSION is not installed in $POSTGRES_BIN (deploy/local/install.sh installs it)."
  mkdir -p "$POSTGRES_DATA"
  if [ "$(id -u)" -eq 0 ]; then
    id "$POSTGRES_OS_USER" >/dev/null 2>&1 || fail "there is no '$POSTGRES_OS_USER' system user to own the PostgreSQL cluster."
    chown "$POSTGRES_OS_USER:" "$POSTGRES_DATA"
    "${AS_OWNER[@]}" test -x "$POSTGRES_DATA" || fail "the '$POSTGRES_OS_USER' user cannot reach $POSTGRES_DATA:" \
      "every folder above it must be searchable by others (chmod o+x), or set PARLEY_LOCAL_DIR elsewhere."
  fi
  chmod 700 "$POSTGRES_DATA"
  say "Creating a PostgreSQL $POSTGRES_VERSION cluster in $POSTGRES_DATA ..."
  (cd / && "${AS_OWNER[@]}" "$POSTGRES_BIN/initdb" --pgdata="$POSTGRES_DATA" --username=postgres \
      --encoding=UTF8 --locale=C --auth=trust) > "$LOG_DIR/postgres-initdb.log" 2>&1 \
    || { tail -20 "$LOG_DIR/postgres-initdb.log"; fail "initdb failed"; }
}

start_postgres() {
  if pid_alive "$POSTGRES_PID"; then say "PostgreSQL already running (pid $(cat "$POSTGRES_PID"))"; return; fi
  init_postgres
  mkdir -p "$POSTGRES_SOCKET_DIR"
  [ "$(id -u)" -ne 0 ] || chown "$POSTGRES_OS_USER:" "$POSTGRES_SOCKET_DIR"
  say "Starting PostgreSQL $POSTGRES_VERSION on $POSTGRES_HOST:$POSTGRES_PORT ..."
  # In its own session, like the other servers: a Ctrl-C in the terminal reaches the scripts, which stop
  # everything in order. Durability stays at PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes).
  "${IN_OWN_SESSION[@]}" "${AS_OWNER[@]}" "$POSTGRES_BIN/postgres" -D "$POSTGRES_DATA" -p "$POSTGRES_PORT" \
      -k "$POSTGRES_SOCKET_DIR" -c listen_addresses="$POSTGRES_HOST" -c max_connections="$POSTGRES_MAX_CONNECTIONS" \
    < /dev/null >> "$LOG_DIR/postgres.log" 2>&1 &
  echo $! > "$POSTGRES_PID"
}

postgres_ready() {
  wait_ready postgres "$LOG_DIR/postgres.log" "$POSTGRES_PID"
  # Something else answering on our port would pass the probe: make sure ours is the one that runs.
  pid_alive "$POSTGRES_PID" || { tail -20 "$LOG_DIR/postgres.log" >&2; fail "PostgreSQL exited (is $POSTGRES_PORT taken? set PARLEY_POSTGRES_PORT)"; }
  # The postmaster writes its PID first in postmaster.pid: record that one, whatever started it.
  local postmaster
  postmaster="$(head -1 "$POSTGRES_DATA/postmaster.pid" 2>/dev/null || true)"
  [ -z "$postmaster" ] || echo "$postmaster" > "$POSTGRES_PID"
}

setup_ferretdb_database() {
  # Idempotent, at every start: FerretDB's role and UTF8 database, then deploy/local/postgres/gin-twins.sql.
  local psql=(env PGOPTIONS="-c client_min_messages=warning" "$POSTGRES_BIN/psql" -X -q -v ON_ERROR_STOP=1
    -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U postgres)
  local log="$LOG_DIR/postgres-setup.log"
  "${psql[@]}" -d postgres >> "$log" 2>&1 <<'SQL' || { tail -20 "$log"; fail "creating FerretDB's database failed"; }
SELECT 'CREATE ROLE ferretdb LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ferretdb') \gexec
SELECT 'CREATE DATABASE ferretdb OWNER ferretdb TEMPLATE template0 ENCODING ''UTF8'' LOCALE ''C'''
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ferretdb') \gexec
SQL
  "${psql[@]}" -d ferretdb -f "$REPO_ROOT/deploy/local/postgres/gin-twins.sql" >> "$log" 2>&1 \
    || { tail -20 "$log"; fail "installing the GIN twins in FerretDB's database failed"; }
}

start_ferretdb() {
  if pid_alive "$FERRETDB_PID"; then say "FerretDB already running (pid $(cat "$FERRETDB_PID"))"; return; fi
  # The pool must fit in PostgreSQL's connections (3 are reserved for superusers), or writes fail under load.
  [ "$FERRETDB_POOL" -le "$((POSTGRES_MAX_CONNECTIONS - 10))" ] \
    || fail "PARLEY_FERRETDB_POOL ($FERRETDB_POOL) must stay 10 below PARLEY_POSTGRES_MAX_CONNECTIONS ($POSTGRES_MAX_CONNECTIONS)."
  mkdir -p "$FERRETDB_DATA/state"
  say "Starting FerretDB on $MONGODB_HOST:$MONGODB_PORT (PostgreSQL backend, pool of $FERRETDB_POOL) ..."
  "${IN_OWN_SESSION[@]}" "$FERRETDB_BIN" --handler=postgresql \
    --postgresql-url="postgres://ferretdb@$POSTGRES_HOST:$POSTGRES_PORT/ferretdb?pool_max_conns=$FERRETDB_POOL&sslmode=disable" \
    --listen-addr="$MONGODB_HOST:$MONGODB_PORT" --state-dir="$FERRETDB_DATA/state" \
    --telemetry=disable --debug-addr=- --log-level=warn < /dev/null >> "$LOG_DIR/ferretdb.log" 2>&1 &
  echo $! > "$FERRETDB_PID"
}

wait_ready() {
  # $1 kafka|mongodb|postgres, $2 log file, $3 the server's PID file (the wait ends early if it has exited)
  local pid=()
  [ -z "${3:-}" ] || ! [ -f "$3" ] || pid=(--pid "$(cat "$3")")
  if ! "$PYTHON" "$REPO_ROOT/deploy/local/probe.py" "$1" --timeout "${PARLEY_INFRA_TIMEOUT:-90}" "${pid[@]}"; then
    echo "---- last lines of $2 ----" >&2
    tail -40 "$2" >&2 || true
    fail "$1 did not become ready"
  fi
}

stop_pid() {
  # $1 pid file, $2 name, $3 signal (TERM unless given)
  if ! pid_alive "$1"; then rm -f "$1"; say "$2 is not running"; return; fi
  local pid; pid="$(cat "$1")"
  kill -"${3:-TERM}" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "$2 did not stop in 30 s; killing pid $pid"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$1"
  say "$2 stopped (pid $pid)"
}

status_line() {
  # $1 pid file, $2 name, $3 address
  if pid_alive "$1"; then echo "  $2: running, pid $(cat "$1"), $3"; else echo "  $2: stopped"; fi
}

cmd="${1:-}"
mkdir -p "$RUN_DIR" "$LOG_DIR"
case "$cmd" in
  up)
    "$REPO_ROOT/deploy/local/install.sh"
    start_kafka
    start_postgres
    postgres_ready
    setup_ferretdb_database
    start_ferretdb
    wait_ready mongodb "$LOG_DIR/ferretdb.log" "$FERRETDB_PID"
    wait_ready kafka "$LOG_DIR/kafka.log" "$KAFKA_PID"
    say "Infrastructure ready: Kafka $PARLEY_KAFKA_BOOTSTRAP, MongoDB-wire $PARLEY_MONGODB_URI" \
      "(FerretDB on PostgreSQL $POSTGRES_HOST:$POSTGRES_PORT)"
    ;;
  down)
    # `down kafka` (or ferretdb, postgres) stops only that one (with-infra.sh stops only what it started).
    # FerretDB stops before the PostgreSQL it stores in, whatever the order asked.
    shift
    [ $# -gt 0 ] || set -- kafka ferretdb postgres
    for what in "$@"; do
      case "$what" in
        kafka|ferretdb|postgres) ;;
        *) fail "infra.sh down: unknown server '$what' (kafka, ferretdb or postgres)" ;;
      esac
    done
    for what in kafka ferretdb postgres; do
      case " $* " in *" $what "*) ;; *) continue ;; esac
      case "$what" in
        kafka) stop_pid "$KAFKA_PID" Kafka ;;
        ferretdb) stop_pid "$FERRETDB_PID" FerretDB ;;
        # SIGINT is PostgreSQL's fast shutdown: clients are disconnected, everything committed is on disk.
        postgres) stop_pid "$POSTGRES_PID" PostgreSQL INT ;;
      esac
    done
    ;;
  restart-kafka)
    # For fault tests: the broker goes away and comes back with its data.
    stop_pid "$KAFKA_PID" Kafka
    start_kafka
    wait_ready kafka "$LOG_DIR/kafka.log" "$KAFKA_PID"
    ;;
  restart-ferretdb)
    stop_pid "$FERRETDB_PID" FerretDB
    start_ferretdb
    wait_ready mongodb "$LOG_DIR/ferretdb.log" "$FERRETDB_PID"
    ;;
  restart-postgres)
    # For fault tests: the database under FerretDB crashes and comes back; FerretDB stays up and reconnects.
    # SIGQUIT is PostgreSQL's immediate shutdown: no checkpoint, crash recovery from the WAL at the next start,
    # so what survives is exactly what was committed durably.
    stop_pid "$POSTGRES_PID" PostgreSQL QUIT
    start_postgres
    postgres_ready
    ;;
  status)
    status_line "$KAFKA_PID" Kafka "$KAFKA_HOST:$KAFKA_PORT"
    status_line "$FERRETDB_PID" FerretDB "mongodb://$MONGODB_HOST:$MONGODB_PORT"
    status_line "$POSTGRES_PID" PostgreSQL "$POSTGRES_HOST:$POSTGRES_PORT, data in $POSTGRES_DATA"
    ;;
  reset)
    "$0" down
    say "Wiping data in $LOCAL_DIR/data"
    rm -rf "$LOCAL_DIR/data"
    ;;
  *)
    echo "usage: $0 up|down [kafka|ferretdb|postgres]...|status|reset|restart-kafka|restart-ferretdb|restart-postgres" >&2
    exit 2 ;;
esac
