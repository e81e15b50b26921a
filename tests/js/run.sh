#!/usr/bin/env bash
# Runs the client library's tests (clients/js/parley.mjs) against the real server binary. The
# single-node tests start their own servers (kill -9 and restart them on the same port and data);
# the cluster test runs inside tests/browser/run-cluster.sh, on the cluster it starts.
#   PARLEY_BIN  the server binary (default: build/parley of this repo)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export PARLEY_BIN="${PARLEY_BIN:-$root/build/parley}"
[[ -x "$PARLEY_BIN" ]] || { echo "run.sh: no server binary at $PARLEY_BIN (build first or set PARLEY_BIN)" >&2; exit 2; }

cd "$here"
[[ -d node_modules ]] || npm ci --silent
node --test single.test.mjs
