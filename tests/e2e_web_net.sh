#!/bin/sh
# e2e_web_net.sh — `keep serve` in the settings the main web test does not
# cover: inside a network namespace with loopback only (Keep never needs
# the network: ingest, serve, log in, upload, search), over HTTPS with a
# self-signed certificate, and single sign-on through a trusted proxy
# address (127.0.0.2) while the same header from 127.0.0.1 is ignored.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TAP_TMP"' EXIT

# ---- loopback-only network namespace ----------------------------------------------------------------
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    N="$TAP_TMP/ns"
    mkdir -p "$N"
    cat > "$N/run.sh" <<'EOF'
set -u
ip link set lo up
ip -o link | grep -v ' lo:' | wc -l > "$N/ifaces"
"$KEEP" --data "$N/d" ingest "$KEEP_SRCDIR/samples" > /dev/null 2>&1
"$KEEP" --data "$N/d" serve --listen 127.0.0.1:0 > "$N/out" 2> "$N/err" &
spid=$!
i=0
PORT=
while [ $i -lt 100 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's/^keep: serving on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$N/err" 2>/dev/null)
    [ -z "$PORT" ] && sleep 0.1
    i=$((i + 1))
done
B="http://127.0.0.1:$PORT"
PW=$(sed -n 's/^    \([A-Za-z0-9]\{20\}\)$/\1/p' "$N/out")
curl -s -c "$N/jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}" "$B/api/v1/login" > "$N/login.json"
CSRF=$(jq -r .csrf_token "$N/login.json")
printf 'The vermilion abacus committee meets at dawn.\n' > "$N/abacus.txt"
curl -s -b "$N/jar" -H "X-CSRF-Token: $CSRF" -F "file=@$N/abacus.txt" "$B/api/v1/documents" > "$N/upload.json"
curl -s -b "$N/jar" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
    -d '{"query":"vermilion abacus committee"}' "$B/api/v1/search" > "$N/search.json"
curl -s -b "$N/jar" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
    -d '{"query":"expense reimbursement"}' "$B/api/v1/search" > "$N/search2.json"
kill -TERM $spid
wait $spid
echo $? > "$N/exit"
EOF
    N="$N" KEEP="$KEEP" KEEP_SRCDIR="$KEEP_SRCDIR" unshare -n sh "$N/run.sh"
    tap_eq "$(cat "$N/ifaces")" 0 "the namespace has loopback only"
    tap_eq "$(jq -r .user "$N/login.json" 2>/dev/null)" admin "inside it, the admin logs in"
    tap_eq "$(jq -r '.documents[0].status' "$N/upload.json" 2>/dev/null)" indexed "an upload is indexed"
    tap_match "$(jq -r '.results[0].path' "$N/search.json" 2>/dev/null)" "abacus[.]txt$" "and found by search"
    tap_match "$(jq -r '.results | length' "$N/search2.json" 2>/dev/null)" "^[1-9]" "the ingested samples are searchable"
    tap_eq "$(cat "$N/exit")" 0 "the server stops cleanly"
else
    for d in "loopback-only namespace" "login" "upload" "search" "samples" "stop"; do
        TAP_N=$((TAP_N + 1))
        echo "ok $TAP_N - # SKIP $d: unshare -n is not permitted here"
    done
fi

# ---- HTTPS and trusted-proxy single sign-on --------------------------------------------------------------
D="$TAP_TMP/data"
mkdir -p "$D"
if command -v openssl >/dev/null &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 2 \
        -subj /CN=localhost >/dev/null 2>&1; then
    cat > "$D/keep.conf" <<EOF
[web]
tls_cert = $D/cert.pem
tls_key = $D/key.pem
trusted_proxies = 127.0.0.2
proxy_user_header = X-Forwarded-User
EOF
    printf 'The cobalt lighthouse keeper logs fog.\n' > "$TAP_TMP/light.txt"
    "$KEEP" --data "$D" ingest --collection ops "$TAP_TMP/light.txt" >/dev/null
    "$KEEP" --data "$D" user add erin ops
    "$KEEP" --data "$D" collection grant ops ops
    "$KEEP" --data "$D" serve --listen 127.0.0.1:0 >"$TAP_TMP/out" 2>"$TAP_TMP/err" &
    pid=$!
    PORT=$(tap_port "$TAP_TMP/err" https)
    B="https://127.0.0.1:$PORT"
    H=$(curl -sk -D - -o /dev/null "$B/healthz")
    tap_match "$H" "^HTTP/[0-9.]+ 200" "HTTPS serves with the configured certificate"
    tap_match "$H" "Strict-Transport-Security: max-age=" "HSTS over HTTPS"
    tap_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" 000 "plain HTTP is not served on the HTTPS port"
    PW=$(sed -n 's/^    \([A-Za-z0-9]\{20\}\)$/\1/p' "$TAP_TMP/out")
    H=$(curl -sk -D - -o /dev/null -H 'Content-Type: application/json' \
        -d "{\"username\":\"admin\",\"password\":\"$PW\"}" "$B/api/v1/login")
    tap_match "$H" "Set-Cookie: keep_session=[^;]+;.*; Secure" "the session cookie is Secure over HTTPS"

    tap_eq "$(curl -sk -o /dev/null -w '%{http_code}' -H 'X-Forwarded-User: erin' "$B/api/v1/session")" 401 \
        "the proxy header from an untrusted address is ignored"
    if curl -sk -o /dev/null --interface 127.0.0.2 "$B/healthz" 2>/dev/null; then
        R=$(curl -sk --interface 127.0.0.2 -c "$TAP_TMP/sso" -H 'X-Forwarded-User: erin' "$B/api/v1/session")
        tap_eq "$(printf '%s' "$R" | jq -r '.user + " " + .via')" "erin proxy" "the proxy header from the trusted address signs erin in"
        CSRF=$(printf '%s' "$R" | jq -r .csrf_token)
        tap_eq "$(curl -sk -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -H 'X-Forwarded-User: erin' \
            -H 'Content-Type: application/json' -d '{"query":"cobalt lighthouse"}' "$B/api/v1/search")" 403 \
            "a proxied state-changing request still needs the CSRF token"
        R=$(curl -sk --interface 127.0.0.2 -b "$TAP_TMP/sso" -H 'X-Forwarded-User: erin' -H "X-CSRF-Token: $CSRF" \
            -H 'Content-Type: application/json' -d '{"query":"cobalt lighthouse"}' "$B/api/v1/search")
        tap_match "$(printf '%s' "$R" | jq -r '.results[0].path')" "light[.]txt$" "with it, erin searches her collection"
        tap_eq "$(curl -sk -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -H 'X-Forwarded-User: mallory' \
            "$B/api/v1/session")" 401 "an unknown proxied user is 401"
    else
        for d in "trusted proxy signs in" "proxied CSRF" "proxied search" "unknown proxied user"; do
            TAP_N=$((TAP_N + 1))
            echo "ok $TAP_N - # SKIP $d: cannot bind 127.0.0.2"
        done
    fi
    kill -TERM "$pid"
    wait "$pid"
    tap_eq $? 0 "the HTTPS server stops cleanly"
    pid=
else
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N - # SKIP HTTPS and single sign-on: openssl is not installed"
fi

tap_done
