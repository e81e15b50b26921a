#!/usr/bin/env bash
# Starts a throwaway parley server, runs the browser test against it, stops the server.
#   PARLEY_BIN      the server binary (default: build/parley of this repo)
#   PARLEY_CHROMIUM the browser (default: /usr/bin/chromium, Debian's package "chromium")
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

data="$(mktemp -d)"
out="$(mktemp)"
err="$(mktemp)"
pid=""
cleanup() {
  stop_server "$pid"
  rm -rf "$data" "$out" "$err"
}
trap cleanup EXIT

"$bin" serve --listen 127.0.0.1:0 --data "$data" --argon2-mem-kib 1024 >"$out" 2>"$err" &
pid=$!

url=""
for _ in $(seq 300); do   # up to 30 s
  url="$(sed -n 's/^ready \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\).*$/\1/p' "$out" | head -n1)"
  [[ -n "$url" ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: the server exited before it was ready" >&2; cat "$out" "$err" >&2; exit 1
  fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "run.sh: no 'ready http://127.0.0.1:<port>' line from the server within 30 s" >&2; cat "$out" "$err" >&2; exit 1
fi
echo "run.sh: server ready at $url"

cd "$here"
[[ -d node_modules ]] || npm ci --silent
status=0
PARLEY_URL="$url" node --test chat.test.mjs || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- server stderr (last 50 lines) ---" >&2
  tail -n 50 "$err" >&2
fi
exit $status
