#!/usr/bin/env bash
# Installs Debian's Chromium for the Playwright browser tests (tests/browser). Playwright's own browser
# download cannot work on these machines, so the tests drive /usr/bin/chromium (with an emoji font, so the
# screenshots show emoji). Skipped when Chromium is present.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CHROMIUM="${PARLEY_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  say "Chromium already installed at $CHROMIUM"
  exit 0
fi
require_tool apt-get "install Debian's Chromium for the browser tests"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  require_tool sudo "install Chromium with apt-get (not running as root)"
  SUDO="sudo"
fi
say "Installing Chromium from Debian's packages for the browser tests (about 25 s, first time only) ..."
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; refresh them once before installing.
$SUDO apt-get update -qq >/dev/null || fail "apt-get update failed (see the output above)."
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji >/dev/null \
  || fail "apt-get install chromium fonts-noto-color-emoji failed (see the output above)."
[ -x "$CHROMIUM" ] || fail "Chromium was installed but $CHROMIUM is missing."
say "Chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
