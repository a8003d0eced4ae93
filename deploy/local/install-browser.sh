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
say "Installing Chromium from Debian's packages for the browser tests (about 25 s, first time only) ..."
apt_install "the browser tests" chromium fonts-noto-color-emoji
[ -x "$CHROMIUM" ] || fail "Chromium was installed but $CHROMIUM is missing."
say "Chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
