#!/usr/bin/env bash
# The browser over TLS: makes a throwaway CA and a certificate for 127.0.0.1 signed by it, starts
# parley with --tls-cert/--tls-key, and runs tls.test.mjs, which loads https://127.0.0.1:PORT/ in
# Chromium with that certificate pinned by its public key (no system trust store is touched).
#   PARLEY_BIN      the server binary (default: build/parley of this repo)
#   PARLEY_CHROMIUM the browser (default: /usr/bin/chromium, Debian's package "chromium")
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work="$(mktemp -d)"
pid=""
cleanup() {
  stop_server "$pid"
  rm -rf "$work"
}
trap cleanup EXIT

# The CA and the server certificate (P-256 keys, two days).
(
  cd "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj "/CN=parley browser test CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
    -subj "/CN=127.0.0.1" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 \
    -extfile ext.cnf -out server.pem 2>/dev/null
)
# What Chromium pins: base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo.
spki="$(openssl x509 -in "$work/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)"

mkdir -p "$work/data"
"$bin" serve --listen 127.0.0.1:0 --data "$work/data" --argon2-mem-kib 1024 \
  --tls-cert "$work/server.pem" --tls-key "$work/server.key" >"$work/out" 2>"$work/err" &
pid=$!

url=""
for _ in $(seq 300); do   # up to 30 s
  url="$(sed -n 's/^ready \(https:\/\/127\.0\.0\.1:[0-9][0-9]*\).*$/\1/p' "$work/out" | head -n1)"
  [[ -n "$url" ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run-tls.sh: the server exited before it was ready" >&2; cat "$work/out" "$work/err" >&2; exit 1
  fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "run-tls.sh: no 'ready https://127.0.0.1:<port>' line from the server within 30 s" >&2
  cat "$work/out" "$work/err" >&2; exit 1
fi
echo "run-tls.sh: server ready at $url"

cd "$here"
[[ -d node_modules ]] || npm ci --silent
status=0
PARLEY_URL="$url" PARLEY_SPKI="$spki" node --test tls.test.mjs || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- server stderr (last 50 lines) ---" >&2
  tail -n 50 "$work/err" >&2
fi
exit $status
