#!/usr/bin/env bash
# Runs a command with the local infrastructure up, and stops afterwards only what this script started.
# Usage: with-infra.sh <command> [args...]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

started=()
pid_alive "$RUN_DIR/kafka.pid" || started+=(kafka)
pid_alive "$RUN_DIR/ferretdb.pid" || started+=(ferretdb)
cleanup() {
  if [ ${#started[@]} -gt 0 ]; then
    say "Stopping the infrastructure this run started (${started[*]})"
    "$REPO_ROOT/deploy/local/infra.sh" down
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$REPO_ROOT/deploy/local/infra.sh" up
set +e
"$@"
rc=$?
exit $rc
