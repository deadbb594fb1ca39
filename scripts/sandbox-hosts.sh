#!/usr/bin/env bash
# Make Lambda's own host names resolve to this machine: sandbox.localdomain and
# sandbox. Telemetry API and Logs API extensions bind their listeners to them
# and subscribe with them (developer guide, "Telemetry API": the destination
# is http://sandbox.localdomain:PORT); outside Lambda they do not resolve and
# such extensions crash at init ("lookup sandbox.localdomain: no such host").
#
# Idempotent: adds one line to /etc/hosts when either name does not resolve.
# Needs root to write /etc/hosts; otherwise it says what to add and exits 1.
# Containers get the names from the harness (docker's extra_hosts).
set -euo pipefail

LINE="127.0.0.1 sandbox.localdomain sandbox"
resolves() { getent hosts "$1" >/dev/null 2>&1; }

if resolves sandbox.localdomain && resolves sandbox; then
  echo "[sandbox-hosts] sandbox.localdomain and sandbox resolve"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "[sandbox-hosts] add this line to /etc/hosts (as root): $LINE" >&2
  exit 1
fi
echo "$LINE  # lambda-sigterm-lab: Lambda's names for the execution environment" >> /etc/hosts
resolves sandbox.localdomain && resolves sandbox
echo "[sandbox-hosts] added to /etc/hosts: $LINE"
