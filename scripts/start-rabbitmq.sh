#!/usr/bin/env bash
# Install (if missing) and start a local RabbitMQ broker for the AMQP tests and
# the broker-judged cells, listening on loopback only; wait until it answers an
# AMQP handshake. Idempotent: a broker that already answers is left alone.
#
#   scripts/start-rabbitmq.sh            # then AMQP_URI=amqp://guest:guest@127.0.0.1:5672/%2F
#
# Environment: LAB_RABBITMQ_PORT (default 5672), LAB_RABBITMQ_WAIT_S (default 120).
set -euo pipefail

PORT=${LAB_RABBITMQ_PORT:-5672}
WAIT_S=${LAB_RABBITMQ_WAIT_S:-120}
ENV_CONF=/etc/rabbitmq/rabbitmq-env.conf
MARKER="# written by lambda-sigterm-lab scripts/start-rabbitmq.sh"

say() { echo "[rabbitmq] $*" >&2; }

# An AMQP 0-9-1 handshake, not just a TCP connect: the broker must send
# Connection.Start (a method frame, type 1, channel 0) after the protocol header.
answers() {
    python3 - "$PORT" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3) as s:
        s.sendall(b"AMQP\x00\x00\x09\x01")
        head = s.recv(7)
except OSError:
    sys.exit(1)
sys.exit(0 if len(head) == 7 and head[0] == 1 and head[1:3] == b"\x00\x00" else 1)
PY
}

if answers; then
    say "a broker already answers AMQP on 127.0.0.1:$PORT"
    exit 0
fi

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
    say "installing Debian's rabbitmq-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q rabbitmq-server
fi

# Loopback only: the AMQP listener, epmd and Erlang distribution. Written only
# over Debian's all-comments default or over our own earlier version.
if [ ! -s "$ENV_CONF" ] || grep -qF "$MARKER" "$ENV_CONF" || ! grep -qv '^\s*\(#\|$\)' "$ENV_CONF"; then
    cat > "$ENV_CONF" <<CONF
$MARKER
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=$PORT
export ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
CONF
else
    say "keeping the existing $ENV_CONF (not ours); make sure it listens on loopback"
fi

# ERL_EPMD_ADDRESS must also be set for the epmd that the start spawns.
export ERL_EPMD_ADDRESS=127.0.0.1
if ! pgrep -u rabbitmq -f 'beam.*rabbit' >/dev/null 2>&1; then
    say "starting the broker"
    if ! service rabbitmq-server start >/dev/null 2>&1; then
        say "service start failed; trying rabbitmq-server -detached"
        rabbitmq-server -detached || true
    fi
fi

deadline=$(( $(date +%s) + WAIT_S ))
until answers; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        say "error: no AMQP answer on 127.0.0.1:$PORT within ${WAIT_S}s"
        tail -n 40 /var/log/rabbitmq/*.log 2>/dev/null >&2 || true
        exit 1
    fi
    sleep 1  # a bounded poll of the handshake, not a readiness guess
done
say "broker answers AMQP on 127.0.0.1:$PORT"
