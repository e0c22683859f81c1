#!/usr/bin/env bash
# Property-based tests of both OpenAPI descriptions against a real `adieu serve` on SQLite:
# schemathesis generates requests from /openapi.json and fails on any 5xx, any status code,
# content type, header or body that the description does not allow.
#
# Uses target/debug/adieu (built by `cargo test`; built here if missing). Exits non-zero on any
# failure. ADIEU_ST_SEED picks another seed (a fixed one keeps CI reproducible);
# ADIEU_ST_EXAMPLES the test cases per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
VENV=${ADIEU_ST_VENV:-/tmp/adieu-st}
SEED=${ADIEU_ST_SEED:-20260301}
EXAMPLES=${ADIEU_ST_EXAMPLES:-100}

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qxF "schemathesis, version $ST_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
"$VENV/bin/schemathesis" --version

bin="${CARGO_TARGET_DIR:-target}/debug/adieu"
if [ ! -x "$bin" ]; then
  cargo build -p adieu
fi

work=$(mktemp -d)
server=
stop() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
admin_port=$(free_port)
base="http://127.0.0.1:$port"
admin="http://127.0.0.1:$admin_port"
database="sqlite://$work/adieu.db"

# Cheap hashing and no rate limits: schemathesis sends many logins and wrong keys on purpose.
"$bin" serve \
  --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin_port" \
  --database-url "$database" \
  --argon2-memory-kib 64 --argon2-iterations 1 \
  --login-attempts-per-user 0 --login-attempts-per-user-total 0 \
  --login-attempts-per-ip 0 --registrations-per-ip 0 \
  --admin-failures-per-ip 0 --client-failures-per-ip 0 \
  >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "$base/healthz"

json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# A real user with a real access token, an admin key, and an OAuth client.
password="schemathesis-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
credentials="{\"username\":\"st-user\",\"password\":\"$password\"}"
curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "$credentials" "$base/api/register"
access_token=$(curl -fsS -H 'Content-Type: application/json' -d "$credentials" "$base/api/login" \
  | json_field access_token)
admin_key=$("$bin" admin keys create --database-url "$database" --name st | grep -o 'adieu_ak_[A-Za-z0-9_-]*')
client=$(curl -fsS -H "Authorization: Bearer $admin_key" -H 'Content-Type: application/json' \
  -d '{"name":"schemathesis"}' "$admin/admin/clients")
client_id=$(json_field client_id <<<"$client")
client_secret=$(json_field client_secret <<<"$client")
export ADIEU_ST_ACCESS_TOKEN=$access_token ADIEU_ST_ADMIN_KEY=$admin_key \
  ADIEU_ST_CLIENT_ID=$client_id ADIEU_ST_CLIENT_SECRET=$client_secret

# Credentials per security scheme of the descriptions.
cat >"$work/schemathesis.toml" <<'EOF'
[auth.openapi.access_token]
bearer = "${ADIEU_ST_ACCESS_TOKEN}"

[auth.openapi.client_basic]
username = "${ADIEU_ST_CLIENT_ID}"
password = "${ADIEU_ST_CLIENT_SECRET}"

[auth.openapi.admin_key]
bearer = "${ADIEU_ST_ADMIN_KEY}"
EOF

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks=$checks,response_headers_conformance,response_schema_conformance

run() {
  local location=$1
  shift
  echo "== schemathesis $location $*"
  # From the temporary directory, where schemathesis leaves its cache. One worker: with two,
  # hypothesis's lambda descriptions race in CPython 3.11's AST parser and the run errors out.
  (cd "$work" && timeout 150 "$VENV/bin/schemathesis" \
    --config-file "$work/schemathesis.toml" --no-color \
    run "$location" \
    --checks "$checks" \
    --max-examples "$EXAMPLES" --seed "$SEED" \
    --workers 1 --request-timeout 10 --generation-database none \
    "$@")
}

# The calls that end the caller's session go last, so that the others run with a live token.
status=0
run "$base/openapi.json" --exclude-path /api/logout --exclude-path /api/logout/all || status=$?
run "$base/openapi.json" --include-path /api/logout --include-path /api/logout/all || status=$?
run "$admin/openapi.json" || status=$?

if [ "$status" -ne 0 ]; then
  echo "== schemathesis failed ($status); the server's log:"
  tail -n 50 "$work/server.log"
fi
exit "$status"
