#!/usr/bin/env bash
# Runs a command with the local infrastructure up, and stops afterwards only what this script started.
# Usage: with-infra.sh [--stop-on-interrupt] <command> [args...]
#   --stop-on-interrupt  Ctrl-C is how the command is meant to end (`make run`): after the clean-up the script
#                        exits 0. Without it an interrupted command (`make test`) exits 130, never as a success.
# Ctrl-C stops the command first (honcho stops the services), then Kafka, FerretDB and PostgreSQL, each once: the servers run
# in sessions of their own (infra.sh), out of reach of the terminal's SIGINT, and this script stops them.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Started by make, this script shares make's process group, and make dies of the terminal's SIGINT (status 130)
# however cleanly everything stops. So in a terminal it restarts itself as the terminal's foreground job, which
# alone gets Ctrl-C, as if an interactive shell had started it (foreground.py; without a terminal it just runs).
if [ -z "${PARLEY_FOREGROUND_JOB:-}" ]; then
  exec "$PYTHON" "$REPO_ROOT/deploy/local/foreground.py" bash "${BASH_SOURCE[0]}" "$@"
fi
unset PARLEY_FOREGROUND_JOB

stop_on_interrupt=0
if [ "${1:-}" = --stop-on-interrupt ]; then stop_on_interrupt=1; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [--stop-on-interrupt] <command> [args...]" >&2; exit 2; }

started=()
pid_alive "$RUN_DIR/kafka.pid" || started+=(kafka)
pid_alive "$RUN_DIR/ferretdb.pid" || started+=(ferretdb)
pid_alive "$RUN_DIR/postgres.pid" || started+=(postgres)
# shellcheck disable=SC2329  # run by the trap below
cleanup() {
  if [ ${#started[@]} -gt 0 ]; then
    say "Stopping the infrastructure this run started (${started[*]})"
    "$REPO_ROOT/deploy/local/infra.sh" down "${started[@]}"
  fi
}
# shellcheck disable=SC2329  # run by the traps below
interrupted() {
  # $1: 128 + the signal's number. A second Ctrl-C (ignored from here on, also by infra.sh down) must not cut
  # the clean-up short. Bash runs this once the command in the foreground has ended.
  trap '' INT
  if [ "$1" -eq 130 ] && [ "$stop_on_interrupt" -eq 1 ]; then exit 0; fi
  exit "$1"
}
trap cleanup EXIT
trap 'interrupted 130' INT
trap 'interrupted 143' TERM
trap 'interrupted 129' HUP
"$REPO_ROOT/deploy/local/infra.sh" up
set +e
"$@"
rc=$?
exit $rc
