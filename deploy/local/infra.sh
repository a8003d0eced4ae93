#!/usr/bin/env bash
# Starts, stops and inspects the local Kafka broker and FerretDB server.
# Usage: infra.sh up|down [kafka|ferretdb]...|status|reset|restart-kafka|restart-ferretdb
# Processes are tracked by the PID recorded at start and stopped by that PID only.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_PID="$RUN_DIR/kafka.pid"
FERRETDB_PID="$RUN_DIR/ferretdb.pid"

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

kafka_java() {
  # shellcheck disable=SC2086 # KAFKA_HEAP holds several options
  java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

start_kafka() {
  if pid_alive "$KAFKA_PID"; then say "Kafka already running (pid $(cat "$KAFKA_PID"))"; return; fi
  write_kafka_config
  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    local cluster_id
    cluster_id="$("$PYTHON" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')"
    say "Formatting Kafka storage (cluster $cluster_id) ..."
    kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$KAFKA_HOME/server.properties" \
      > "$LOG_DIR/kafka-format.log" 2>&1 || { tail -20 "$LOG_DIR/kafka-format.log"; fail "Kafka storage format failed"; }
  fi
  say "Starting Kafka on $KAFKA_HOST:$KAFKA_PORT ..."
  # shellcheck disable=SC2086 # KAFKA_HEAP holds several options
  "${IN_OWN_SESSION[@]}" java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" -cp "$KAFKA_HOME/libs/*" \
    kafka.Kafka "$KAFKA_HOME/server.properties" < /dev/null >> "$LOG_DIR/kafka.log" 2>&1 &
  echo $! > "$KAFKA_PID"
}

start_ferretdb() {
  if pid_alive "$FERRETDB_PID"; then say "FerretDB already running (pid $(cat "$FERRETDB_PID"))"; return; fi
  mkdir -p "$FERRETDB_DATA/sqlite" "$FERRETDB_DATA/state"
  say "Starting FerretDB on $MONGODB_HOST:$MONGODB_PORT ..."
  "${IN_OWN_SESSION[@]}" "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$FERRETDB_DATA/sqlite/" \
    --listen-addr="$MONGODB_HOST:$MONGODB_PORT" --state-dir="$FERRETDB_DATA/state" \
    --telemetry=disable --debug-addr=- --log-level=warn < /dev/null >> "$LOG_DIR/ferretdb.log" 2>&1 &
  echo $! > "$FERRETDB_PID"
}

wait_ready() {
  # $1 kafka|mongodb, $2 log file
  if ! "$PYTHON" "$REPO_ROOT/deploy/local/probe.py" "$1" --timeout "${PARLEY_INFRA_TIMEOUT:-90}"; then
    echo "---- last lines of $2 ----" >&2
    tail -40 "$2" >&2 || true
    fail "$1 did not become ready"
  fi
}

stop_pid() {
  # $1 pid file, $2 name
  if ! pid_alive "$1"; then rm -f "$1"; say "$2 is not running"; return; fi
  local pid; pid="$(cat "$1")"
  kill "$pid" 2>/dev/null || true
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
    start_ferretdb
    wait_ready mongodb "$LOG_DIR/ferretdb.log"
    wait_ready kafka "$LOG_DIR/kafka.log"
    say "Infrastructure ready: Kafka $PARLEY_KAFKA_BOOTSTRAP, MongoDB-wire $PARLEY_MONGODB_URI"
    ;;
  down)
    # `down kafka` or `down ferretdb` stops only that one (with-infra.sh stops only what it started).
    shift
    [ $# -gt 0 ] || set -- kafka ferretdb
    for what in "$@"; do
      case "$what" in
        kafka) stop_pid "$KAFKA_PID" Kafka ;;
        ferretdb) stop_pid "$FERRETDB_PID" FerretDB ;;
        *) fail "infra.sh down: unknown server '$what' (kafka or ferretdb)" ;;
      esac
    done
    ;;
  restart-kafka)
    # For fault tests: the broker goes away and comes back with its data.
    stop_pid "$KAFKA_PID" Kafka
    start_kafka
    wait_ready kafka "$LOG_DIR/kafka.log"
    ;;
  restart-ferretdb)
    stop_pid "$FERRETDB_PID" FerretDB
    start_ferretdb
    wait_ready mongodb "$LOG_DIR/ferretdb.log"
    ;;
  status)
    status_line "$KAFKA_PID" Kafka "$KAFKA_HOST:$KAFKA_PORT"
    status_line "$FERRETDB_PID" FerretDB "mongodb://$MONGODB_HOST:$MONGODB_PORT"
    ;;
  reset)
    "$0" down
    say "Wiping data in $LOCAL_DIR/data"
    rm -rf "$LOCAL_DIR/data"
    ;;
  *)
    echo "usage: $0 up|down [kafka|ferretdb]...|status|reset|restart-kafka|restart-ferretdb" >&2; exit 2 ;;
esac
