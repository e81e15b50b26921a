#!/usr/bin/env bash
# The browser test through a cluster: scripts/cluster (a real Kafka, PostgreSQL, three
# instances, a persister) behind nginx, the page loaded from nginx, each browser page's
# WebSocket balanced onto an instance of its own (least_conn), so what one user types reaches the
# other across instances.
#   PARLEY_BIN      the server binary (default: build/parley of this repo)
#   PARLEY_BROKERS  Kafka brokers to start (default 1: the page needs no broker failover)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export PARLEY_BIN="${PARLEY_BIN:-$root/build/parley}"
dir="$(mktemp -d /tmp/parley-bc-XXXXXX)"
chmod 755 "$dir"  # scripts/postgres runs the server as the postgres user
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cleanup() {
  "$root/scripts/cluster" stop --dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$root/scripts/cluster" start --detach --dir "$dir" --brokers "${PARLEY_BROKERS:-1}" \
  --listen "127.0.0.1:$port" --topic-prefix "browser-" >&2
url="http://127.0.0.1:$port"
echo "run-cluster.sh: cluster ready behind $url"

cd "$here"
[[ -d node_modules ]] || npm ci --silent
status=0
PARLEY_URL="$url" node --test chat.test.mjs || status=$?
# The client library's cluster test (tests/js) on the same cluster, after the page's: it kills
# an instance.
(cd "$root/tests/js" && { [[ -d node_modules ]] || npm ci --silent; } &&
  PARLEY_URL="$url" PARLEY_CLUSTER_DIR="$dir" node --test cluster.test.mjs) || status=$?
if [[ $status -ne 0 ]]; then
  for f in "$dir"/i*.log; do echo "--- $f (last 30 lines) ---" >&2; tail -n 30 "$f" >&2; done
fi
exit $status
