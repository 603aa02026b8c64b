#!/usr/bin/env bash
# Make sure the services the store needs answer: Redis always, PostgreSQL when asked (`postgres` argument).
# Installs and starts what is missing; idempotent.
set -euo pipefail
need_postgres="${1:-}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

redis_answers() { python3 - "$REDIS_URL" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
try:
    s = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=1)
    s.sendall(b"PING\r\n"); ok = s.recv(16).startswith(b"+PONG")
except OSError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

if ! redis_answers; then
  if ! command -v redis-server >/dev/null; then
    echo "installing redis-server…"
    sudo_if_needed apt-get install -y -q redis-server >/dev/null \
      || { sudo_if_needed apt-get update -q >/dev/null && sudo_if_needed apt-get install -y -q redis-server >/dev/null; }
  fi
  mkdir -p var/redis
  echo "starting a local redis-server (append-only file in var/redis)…"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --appendonly yes --appendfsync everysec \
    --maxmemory-policy noeviction --dir "$PWD/var/redis" --logfile "$PWD/var/redis/redis.log"
  for _ in $(seq 50); do redis_answers && break; sleep 0.1; done
  redis_answers || { echo "redis did not start; see var/redis/redis.log" >&2; exit 1; }
fi

if [ "$need_postgres" = "postgres" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "starting PostgreSQL…"
    sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
  # the database `manage.py check` and `makemigrations --check` connect to (pytest makes its own test_ copy)
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'gptstore'" | grep -q 1 \
    || createdb -h 127.0.0.1 -U postgres gptstore
fi
