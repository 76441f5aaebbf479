#!/usr/bin/env bash
# Make sure Debian's Chromium is installed at /usr/bin/chromium (the browser tests and the
# app's screenshots drive it with Playwright; Playwright's own browser download cannot work
# on this project's machines). Idempotent: does nothing when the browser is already there.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "viz: $CHROMIUM is missing and installing it needs root: run" >&2
    echo "     apt-get update && apt-get install -y chromium" >&2
    exit 1
fi
echo "viz: installing Debian's chromium (apt-get) ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x "$CHROMIUM" || { echo "viz: apt-get ran but $CHROMIUM is still missing" >&2; exit 1; }
"$CHROMIUM" --version >&2
