#!/usr/bin/env bash
# Server CPU per delivered message, two parley binaries side by side: a plain-ws fan-out (500
# members of one room, 10 senders, 100 msgs/s = 50,000 deliveries/s, 100-byte messages) from the
# peers' wsload with parley's dialect, the binaries interleaved ROUNDS times so that a machine
# shared with other work loads both alike. Prints one line per run.
#   bench/ab_cpu.sh OLD_BIN NEW_BIN [ROUNDS=4]
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 rounds=${3:-4}
peers=../shared/peers
gen=build/wsload-parley
[ -x "$gen" ] || g++ -std=c++20 -O2 -I"$peers/wsload" -o "$gen" "$peers"/wsload/*.cpp bench/dialect_parley.cpp
run() {  # run BIN LABEL
  local d pid port
  d=$(mktemp -d)
  "$1" serve --listen 127.0.0.1:0 --data "$d" --argon2-mem-kib 1024 --rate-per-sec 1000000 \
    --rate-burst 1000000 --sync normal --threads 1 >"$d/out" 2>"$d/err" &
  pid=$!
  for _ in $(seq 100); do grep -q ready "$d/out" && break; sleep 0.1; done
  port=$(sed -n 's/^ready .*:\([0-9]*\)$/\1/p' "$d/out")
  "$gen" --proto parley --port "$port" --conns 500 --rooms 1 --senders 10 --rate 100 --duration 5 \
    --warmup 1 --drain 3 --size 100 --server-pid "$pid" --label "$2" 2>/dev/null | python3 -c '
import json, sys
r = json.loads(sys.stdin.read()); cpu = r["server"]["cpu_pct"]; d = r["deliveries_per_s"]
label, ratio = r["label"], r["delivered_ratio"]
print(f"{label:4} delivered {ratio:.4f} {d:8.0f}/s  server cpu {cpu:5.1f}%  {cpu / 100 * 1e6 / d:.2f} us/delivery")'
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$d"
}
for _ in $(seq "$rounds"); do run "$old" old; run "$new" new; done
