#!/bin/bash
# Time a first `make run` (issue #23): from an empty VAR_DIR, how long until the web answers and until the demo model
# is published. Runs beside any other stack: its own VAR_DIR (SQLite), Redis database and port.
#   scripts/measure-first-run.sh [label] [redis-db] [port]     e.g. scripts/measure-first-run.sh idle 7 8011
# Prints web_answers_s=… and demo_published_s=…, then stops the stack it started.
set -u
label=${1:-first-run}; db=${2:-7}; port=${3:-8011}
var=/tmp/gptstore-$label
cd "$(dirname "$0")/.."
rm -rf "$var" && mkdir -p "$var"
redis-cli -n "$db" flushdb >/dev/null
start=$(date +%s.%N)
VAR_DIR=$var REDIS_URL=redis://127.0.0.1:6379/$db PORT=$port setsid make run >"$var/run.log" 2>&1 &
pid=$!
trap 'kill -- -$pid 2>/dev/null' EXIT
web=""
while true; do
  now=$(date +%s.%N)
  body=$(curl -s -m 5 "http://127.0.0.1:$port/" || true)
  if [ -z "$web" ] && [ -n "$body" ]; then web=$(echo "$now - $start" | bc); echo "web_answers_s=$web"; fi
  if [ -n "$body" ] && ! grep -q 'id="demo-progress"' <<<"$body" && grep -q "pydoc-gpt" <<<"$body"; then
    echo "demo_published_s=$(echo "$now - $start" | bc)"; break
  fi
  if [ "$(echo "$now - $start > 3600" | bc)" = 1 ]; then echo "not published within an hour; see $var/run.log" >&2; exit 1; fi
  sleep 2
done
