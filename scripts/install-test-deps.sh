#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo, from Debian's packages:
#   sipp (package sip-tester): the SIP client of the runtime tests (tests/runtime.rs).
# Idempotent: does nothing when everything is present. Needs root (or sudo) to install.
set -euo pipefail

missing=()
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-test-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-test-deps: installing ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v sipp >/dev/null
