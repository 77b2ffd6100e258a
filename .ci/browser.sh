#!/usr/bin/env bash
# Installs Debian's Chromium and its chromedriver for the browser tests of tts view (tests/view), if missing.
# Idempotent: does nothing when /usr/bin/chromium and /usr/bin/chromedriver are already there.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
/usr/bin/chromium --version
