#!/usr/bin/env bash
# Make a Docker engine answer on this machine, for the docker backend and the
# offline image builds. Idempotent; run as root (CI does: .ci/run).
#
#   1. apt-get install docker.io (brings dockerd) and debootstrap, if missing;
#   2. start dockerd in the background unless an engine already answers;
#   3. wait, bounded, until `docker info` answers.
#
# These machines reach loopback only: no bridge, no iptables, no masquerading.
# Containers use host networking. Nothing is pulled (no registry is reachable):
# images/base/ makes the base images from Debian's packages.
set -euo pipefail

LOG=${LAB_DOCKERD_LOG:-/tmp/lab-dockerd.log}
PIDFILE=${LAB_DOCKERD_PIDFILE:-/tmp/lab-dockerd.pid}
WAIT_S=${LAB_DOCKERD_WAIT_S:-60}

say() { echo "[setup-docker] $*"; }

engine_answers() { docker info >/dev/null 2>&1; }

if [ "$(id -u)" != 0 ]; then
    say "error: run as root (apt-get install and dockerd need it)" >&2
    exit 2
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
command -v docker >/dev/null 2>&1 || { say "error: no docker CLI on PATH" >&2; exit 1; }

if engine_answers; then
    say "an engine already answers: $(docker info --format '{{.ServerVersion}}' 2>/dev/null)"
    exit 0
fi

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    say "dockerd (pid $(cat "$PIDFILE")) is starting; waiting for it"
else
    say "starting dockerd (log $LOG, pidfile $PIDFILE)"
    # setsid: the daemon outlives this script and its caller's process group.
    setsid dockerd --bridge=none --iptables=false --ip-masq=false \
        --pidfile "$PIDFILE" >"$LOG" 2>&1 </dev/null &
fi

deadline=$((SECONDS + WAIT_S))
until engine_answers; do
    if [ $SECONDS -ge $deadline ]; then
        say "error: no engine answered within ${WAIT_S}s; last lines of $LOG:" >&2
        tail -n 30 "$LOG" >&2 || true
        exit 1
    fi
    sleep 0.5
done
say "engine ready: $(docker info --format '{{.ServerVersion}} ({{.Driver}})')"
