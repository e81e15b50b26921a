#!/usr/bin/env bash
# The dependency rule of the hexagon: domain and app are plain C++ and include no I/O library.
# Fails (and names the offending lines) if a file under src/domain or src/app includes boost,
# asio, beast, sqlite3, sodium, libpq, rdkafka or spdlog.
# Usage: dependency_rule_test.sh [SOURCE_ROOT]   (default: the repository this script is in)
set -euo pipefail

root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*(boost|asio|beast|sqlite3|sodium|libpq|rdkafka|spdlog)'

# Prints the violations under the given directories; exit status 0 if there are none.
check() {
  local hits
  hits=$(grep -rnEi --include='*.h' --include='*.hpp' --include='*.cpp' --include='*.cc' \
    "$pattern" "$@" || true)
  if [ -n "$hits" ]; then
    echo "$hits"
    return 1
  fi
  return 0
}

# First prove that the check can fail: a planted violation must be caught, a clean file not.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/app"
printf '#include <string>\n#include "domain/result.h"\n' >"$scratch/app/clean.h"
if ! check "$scratch/app" >/dev/null; then
  echo "self-test failed: a clean file was reported" >&2
  exit 2
fi
for bad in '<boost/asio.hpp>' '<sqlite3.h>' '<sodium.h>' '<libpq-fe.h>' '<librdkafka/rdkafka.h>' \
  '"spdlog/spdlog.h"' '<boost/beast/websocket.hpp>' '<asio.hpp>'; do
  printf '#include <string>\n  #  include %s\n' "$bad" >"$scratch/app/bad.h"
  if check "$scratch/app" >/dev/null; then
    echo "self-test failed: #include $bad was not caught" >&2
    exit 2
  fi
done

for dir in "$root/src/domain" "$root/src/app"; do
  if [ ! -d "$dir" ]; then
    echo "missing directory: $dir" >&2
    exit 2
  fi
done

if ! check "$root/src/domain" "$root/src/app"; then
  echo "FAIL: src/domain and src/app must not include I/O libraries (see the lines above)" >&2
  exit 1
fi
echo "ok: src/domain and src/app include no I/O library"

# The protocol client (src/client) is a client of the wire protocol: nothing of the server but
# domain's pure name rules.
client_hits=$(grep -rnE --include='*.h' --include='*.cpp' \
  '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(gateway|app|adapters|runtime|cli)/' \
  "$root/src/client" || true)
if [ -n "$client_hits" ]; then
  echo "$client_hits"
  echo "FAIL: src/client must not include the server's gateway, app, adapters, runtime or cli" >&2
  exit 1
fi
echo "ok: src/client includes nothing of the server"
