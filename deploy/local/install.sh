#!/usr/bin/env bash
# Installs Apache Kafka (jars from Maven Central) and FerretDB (built from the Go module proxy) into the
# git-ignored .local folder, and Debian's PostgreSQL 15 (FerretDB's storage) where it is missing.
# Quick and silent the second time: nothing is fetched or rebuilt if present.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_kafka() {
  local kafka_version
  kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$REPO_ROOT/deploy/local/kafka/pom.xml")"
  local marker="$KAFKA_HOME/.installed-$kafka_version"
  if [ -f "$marker" ]; then
    say "Kafka $kafka_version already installed in $KAFKA_HOME"
    return
  fi
  require_tool java "run the Kafka broker (Java 17+)"
  require_tool mvn "download the Kafka jars from Maven Central"
  say "Installing Kafka $kafka_version from Maven Central into $KAFKA_HOME (about 45 MB) ..."
  rm -rf "$KAFKA_HOME/libs"
  mkdir -p "$KAFKA_HOME/libs"
  mvn -B -q -f "$REPO_ROOT/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs" \
    || fail "Maven could not resolve the Kafka jars (see the output above)."
  cp "$REPO_ROOT/deploy/local/kafka/log4j2.properties" "$KAFKA_HOME/log4j2.properties"
  touch "$marker"
  say "Kafka $kafka_version installed ($(ls "$KAFKA_HOME/libs" | wc -l) jars)."
}

install_ferretdb() {
  local version
  version="$(sed -n 's:.*github.com/FerretDB/FerretDB \(v[0-9.]*\).*:\1:p' "$REPO_ROOT/deploy/local/ferretdb/go.mod" | head -1)"
  local marker="$FERRETDB_BIN.$version"
  if [ -x "$FERRETDB_BIN" ] && [ -f "$marker" ]; then
    say "FerretDB $version already built at $FERRETDB_BIN"
    return
  fi
  require_tool go "build FerretDB from the Go module proxy"
  say "Building FerretDB $version from the Go module proxy (first time only: 2-5 minutes, up to 3 GB RAM) ..."
  mkdir -p "$(dirname "$FERRETDB_BIN")"
  # The wrapper module pins FerretDB and its checksums (go.mod/go.sum). Building the command straight from the
  # module cache panics at start: FerretDB's build/version package demands a generated version.txt that the
  # published module lacks (FerretDB issue #2982), and Go records FerretDB as the main module either way.
  # So: download through the wrapper (checksum-verified), copy the source aside, add version.txt, build there.
  local src_cache src="$LOCAL_DIR/build/ferretdb-src"
  src_cache="$(cd "$REPO_ROOT/deploy/local/ferretdb" && GOTOOLCHAIN=local go mod download -json "github.com/FerretDB/FerretDB" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src_cache" ] || fail "go mod download of FerretDB $version failed (see the output above)."
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$src_cache" "$src"; chmod -R u+w "$src"
  echo "$version" > "$src/build/version/version.txt"
  (cd "$src" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb) \
    || fail "go build of FerretDB failed (see the output above)."
  rm -rf "$src"
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  rm -f "$FERRETDB_BIN".v*
  touch "$marker"
  say "FerretDB $version built."
}

install_postgres() {
  # Only the server binaries are used (infra.sh creates and runs a cluster of its own under .local).
  if [ -x "$POSTGRES_BIN/postgres" ] && [ -x "$POSTGRES_BIN/initdb" ]; then
    say "PostgreSQL $POSTGRES_VERSION already installed in $POSTGRES_BIN"
    return
  fi
  say "Installing PostgreSQL $POSTGRES_VERSION from Debian's packages (first time only) ..."
  apt_install "FerretDB stores its data in it" "postgresql-$POSTGRES_VERSION"
  [ -x "$POSTGRES_BIN/postgres" ] || fail "postgresql-$POSTGRES_VERSION was installed but $POSTGRES_BIN/postgres is missing."
  say "PostgreSQL installed: $("$POSTGRES_BIN/postgres" --version)"
}

install_kafka
install_ferretdb
install_postgres
