# shellcheck shell=bash disable=SC2034  # sourced: the scripts that source it use these variables
# Shared settings for the local infrastructure scripts. Sourced, never run.
# Every path and port comes from the environment with a default, so two checkouts can run side by side.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="${PARLEY_LOCAL_DIR:-$REPO_ROOT/.local}"
KAFKA_HOST="${PARLEY_KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${PARLEY_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${PARLEY_KAFKA_CONTROLLER_PORT:-9093}"
MONGODB_HOST="${PARLEY_MONGODB_HOST:-127.0.0.1}"
MONGODB_PORT="${PARLEY_MONGODB_PORT:-27017}"
# FerretDB keeps its data in a PostgreSQL 15 cluster of our own, on loopback only. 5442 rather than 5432/5433,
# which a packaged Debian cluster (main, then the next one) would take.
POSTGRES_HOST=127.0.0.1
POSTGRES_PORT="${PARLEY_POSTGRES_PORT:-5442}"
export PARLEY_POSTGRES_HOST="$POSTGRES_HOST" PARLEY_POSTGRES_PORT="$POSTGRES_PORT"
# What clients (services, tests, probes) are told; derived from the ports above unless set.
export PARLEY_KAFKA_BOOTSTRAP="${PARLEY_KAFKA_BOOTSTRAP:-$KAFKA_HOST:$KAFKA_PORT}"
export PARLEY_MONGODB_URI="${PARLEY_MONGODB_URI:-mongodb://$MONGODB_HOST:$MONGODB_PORT}"
KAFKA_HEAP="${PARLEY_KAFKA_HEAP:--Xms256m -Xmx1g}"

KAFKA_HOME="$LOCAL_DIR/kafka"
KAFKA_DATA="$LOCAL_DIR/data/kafka"
FERRETDB_BIN="$LOCAL_DIR/bin/ferretdb"
FERRETDB_DATA="$LOCAL_DIR/data/ferretdb"
POSTGRES_VERSION=15
POSTGRES_BIN="${PARLEY_POSTGRES_BIN:-/usr/lib/postgresql/$POSTGRES_VERSION/bin}"
POSTGRES_DATA="$LOCAL_DIR/data/postgres"
# PostgreSQL refuses to run as root: when we are root, the cluster belongs to this system user (Debian's package creates it).
POSTGRES_OS_USER="${PARLEY_POSTGRES_OS_USER:-postgres}"
# FerretDB's pool, PostgreSQL's max_connections and Parley's bulk size are chosen together, so that no bulk write
# can wait forever for a database connection. FerretDB keeps one pooled connection for every update or replace
# of a bulk that matched, until the bulk ends, and needs one more for the write: with MATCHING_WRITES_PER_BULK = 10
# (shared/mongo.py), a pool of 100 serves nine such bulks at once (Parley writes one per projection instance).
# max_connections stays above the pool: PostgreSQL reserves 3 for superusers, and psql or a probe need a few.
FERRETDB_POOL="${PARLEY_FERRETDB_POOL:-100}"
POSTGRES_MAX_CONNECTIONS="${PARLEY_POSTGRES_MAX_CONNECTIONS:-120}"
RUN_DIR="$LOCAL_DIR/run"
POSTGRES_SOCKET_DIR="$RUN_DIR/postgres"
LOG_DIR="$LOCAL_DIR/logs"
PYTHON="${PARLEY_PYTHON:-$REPO_ROOT/.venv/bin/python}"

# Prefix that runs a command in a session of its own under the same PID (start it with `&`, record `$!`): outside
# the terminal's process group, Ctrl-C and a closing terminal do not reach it; only an explicit stop does.
IN_OWN_SESSION=("$PYTHON" -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])')

say() { printf '\033[1;34m[parley]\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31m[parley] error:\033[0m %s\n' "$*" >&2; exit 1; }

require_tool() {
  # $1 tool name, $2 what it is needed for
  command -v "$1" >/dev/null 2>&1 || fail "'$1' is not installed or not on PATH; it is needed to $2."
}

pid_alive() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

apt_install() {
  # $1 what the packages are for, then the Debian packages: installed with apt-get (sudo when not root).
  local purpose="$1"; shift
  require_tool apt-get "install $* from Debian's packages ($purpose)"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    require_tool sudo "install $* with apt-get (not running as root)"
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet; refresh them once before installing.
  $sudo apt-get update -qq >/dev/null || fail "apt-get update failed (see the output above)."
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || fail "apt-get install $* failed (see the output above)."
}
