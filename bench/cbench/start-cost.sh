#!/bin/bash
# The cost of a cbench run's start to `score controller`: its CPU time and socket writes (/proc/PID/stat
# utime+stime, /proc/PID/io syscw) from before the generator connects until the generator exits,
# over the handshakes, the destinations' announcements (each flooded to every switch), a 0.5 s
# paced warm-up and a 1 s paced window at 1,000 packet-ins/s; and that window's p99 (not under
# --rt: a backlog left by the start shows as a p99 of tens or hundreds of ms).
# Usage: bench/cbench/start-cost.sh CHECKOUT [SWITCHES]   (CHECKOUT: a tree with bin/score.js)
# Run it under `flock /tmp/score-bench.lock` like every measurement (docs/cluster.md, Capacity run 9).
set -euo pipefail
ROOT=$(cd "$1" && pwd); SW=${2:-256}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/score-start-cost.XXXX)
CPID=
cleanup() { [ -n "$CPID" ] && kill -TERM "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
cc -O2 -std=c99 -o "$TMP/gen" "$HERE/cbench-gen.c"
PORT=$((20000 + RANDOM % 20000))
SCORE_OPERATOR_TOKEN=bench taskset -c 1 node "$ROOT/bin/score.js" controller --port "$PORT" --host 127.0.0.1 --api-port 0 --poll-ms 1000 --report-ms 3600000 >"$TMP/log" 2>&1 &
CPID=$!
for _ in $(seq 100); do grep -q "controller up" "$TMP/log" && break; sleep 0.2; done
sleep 1
cpu() { awk '{print ($14+$15)*10}' "/proc/$CPID/stat"; }
writes() { awk '/syscw/{print $2}' "/proc/$CPID/io"; }
A=$(cpu); WA=$(writes)
taskset -c 0 "$TMP/gen" "$PORT" "$SW" paced 1 1000 --warmup 0.5 >"$TMP/gen.json" 2>/dev/null
B=$(cpu); WB=$(writes)
P99=$(node -e "const j=JSON.parse(require('fs').readFileSync('$TMP/gen.json','utf8'));console.log(j.latencyMs.p99+' ms (max '+j.latencyMs.max+' ms, '+j.answered+'/'+j.sent+' answered)')")
echo "$ROOT $SW switches: controller CPU $((B - A)) ms, socket writes $((WB - WA)), window p99 $P99"
