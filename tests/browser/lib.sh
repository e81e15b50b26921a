# Shared by run.sh and run-tls.sh (sourced): the binary and browser checks, and stopping the
# server they start. Sets: here, root, bin.
here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${PARLEY_BIN:-$root/build/parley}"
script="$(basename "${BASH_SOURCE[1]}")"
[[ -x "$bin" ]] || { echo "$script: no server binary at $bin (build first or set PARLEY_BIN)" >&2; exit 2; }
[[ -x "${PARLEY_CHROMIUM:-/usr/bin/chromium}" ]] || { echo "$script: no chromium (apt-get install -y chromium)" >&2; exit 2; }

# stop_server PID: SIGTERM, up to 5 s for the goodbye, then SIGKILL.
stop_server() {
  local pid="$1"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
