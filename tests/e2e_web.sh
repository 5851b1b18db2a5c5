#!/bin/sh
# e2e_web.sh — `keep serve` end to end with curl and jq: security headers,
# embedded assets, 401 without credentials on every protected endpoint, login
# and its rate limit, CSRF and Origin checks, access control across groups
# (search, metadata, text, download, listing), path traversal, upload (and its
# size cap), malformed bodies, API tokens and their revocation, admin
# endpoints, a drop folder, metrics, no document text in the server log, and
# a graceful SIGTERM that lets an in-flight upload finish.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TAP_TMP"' EXIT

mkdir -p "$D" "$TAP_TMP/hr" "$TAP_TMP/eng" "$TAP_TMP/drop"
cat > "$D/keep.conf" <<'EOF'
[web]
login_failures = 3
max_upload_mb = 1
threads = 2
timeout_s = 10
EOF
printf '# Salaries\n\nThe zirconium payroll ledger closes on the ninth.\n' > "$TAP_TMP/hr/salary.md"
printf '# Turbine\n\nThe quokka turbine schematic is in revision four.\n' > "$TAP_TMP/eng/design.md"
"$KEEP" --data "$D" ingest --collection hr "$TAP_TMP/hr" >/dev/null
"$KEEP" --data "$D" ingest --collection eng "$TAP_TMP/eng" >/dev/null
"$KEEP" --data "$D" user add alice hr
"$KEEP" --data "$D" user add bob eng
"$KEEP" --data "$D" user add carol hr
"$KEEP" --data "$D" collection grant hr hr
"$KEEP" --data "$D" collection grant eng eng
echo 'alice-secret-pw' | "$KEEP" --data "$D" user passwd alice
echo 'bob-secret-pw1' | "$KEEP" --data "$D" user passwd bob
echo 'carol-secret-pw' | "$KEEP" --data "$D" user passwd carol
echo 'short' | "$KEEP" --data "$D" user passwd carol 2>/dev/null
tap_eq $? 2 "keep user passwd refuses a short password"

start_server() {
    tap_serve "$D" "$TAP_TMP/out" "$TAP_TMP/err"
    pid=$SRV_PID PORT=$SRV_PORT B=$SRV_URL
}
start_server
tap_match "$PORT" '^[0-9]+$' "keep serve listens on a free port and says where"
ADMIN_PW=$(sed -n 's/^    \([A-Za-z0-9]\{20\}\)$/\1/p' "$TAP_TMP/out")
tap_match "$ADMIN_PW" '^[A-Za-z0-9]{20}$' "first start prints a generated admin password"

# code METHOD PATH [curl args...]: the HTTP status
code() {
    m=$1 p=$2
    shift 2
    curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "$B$p"
}

# ---- headers and assets -------------------------------------------------------------------------
H=$(curl -s -D - -o /dev/null "$B/healthz")
tap_match "$H" "Content-Security-Policy: default-src 'self'" "CSP default-src 'self'"
tap_match "$H" "frame-ancestors 'none'" "CSP forbids framing"
tap_match "$H" "X-Frame-Options: DENY" "X-Frame-Options DENY"
tap_match "$H" "X-Content-Type-Options: nosniff" "nosniff"
tap_match "$H" "Referrer-Policy: no-referrer" "Referrer-Policy no-referrer"
H=$(curl -s -D - -o /dev/null "$B/api/v1/documents")
tap_match "$H" "X-Frame-Options: DENY" "security headers on error responses too"
PAGE=$(curl -s "$B/")
tap_match "$PAGE" '<script src="/assets/app.js"' "the UI page is served"
if printf '%s' "$PAGE" | grep -Eq 'https?://|<script>'; then tap_ok 1 "the page loads nothing from outside and has no inline script"
else tap_ok 0 "the page loads nothing from outside and has no inline script"; fi
tap_match "$(curl -s -D - -o /dev/null "$B/assets/app.js")" "Content-Type: text/javascript" "app.js is embedded"
tap_eq "$(curl -s "$B/api/v1/openapi.json" | jq -r '.paths | has("/api/v1/search")')" true "OpenAPI document lists the search endpoint"
tap_eq "$(code GET /nope)" 404 "unknown path is 404"
tap_eq "$(code PATCH /api/v1/search)" 405 "wrong method is 405"

# ---- 401 without credentials ----------------------------------------------------------------------
bad=
for ep in "POST /api/v1/search" "GET /api/v1/documents" "POST /api/v1/documents" \
    "GET /api/v1/documents/1" "DELETE /api/v1/documents/1" "GET /api/v1/documents/1/text" \
    "GET /api/v1/documents/1/original" "GET /api/v1/collections" "GET /api/v1/tokens" \
    "POST /api/v1/tokens" "DELETE /api/v1/tokens/1" "GET /api/v1/admin/users" \
    "POST /api/v1/admin/users" "DELETE /api/v1/admin/users/x" "PUT /api/v1/admin/users/x/password" \
    "PUT /api/v1/admin/users/x/groups/g" "DELETE /api/v1/admin/users/x/groups/g" \
    "GET /api/v1/admin/groups" "GET /api/v1/admin/collections" \
    "PUT /api/v1/admin/collections/c/grants/g" "DELETE /api/v1/admin/collections/c/grants/g" \
    "GET /api/v1/admin/tokens" "GET /api/v1/admin/folders" "POST /api/v1/admin/folders" \
    "DELETE /api/v1/admin/folders/1" "GET /api/v1/session"; do
    c=$(code $ep)
    [ "$c" = 401 ] || bad="$bad $ep=$c"
done
tap_eq "$bad" "" "every protected endpoint answers 401 without credentials"
tap_eq "$(code GET /api/v1/documents -H 'Authorization: Bearer keep_forged')" 401 "a forged token is 401"
tap_eq "$(code GET /api/v1/documents -b 'keep_session=forged')" 401 "a forged session cookie is 401"

# ---- login and rate limit --------------------------------------------------------------------------
login() { # login USER PASSWORD JAR: prints the HTTP status
    curl -s -o "$TAP_TMP/login.json" -w '%{http_code}' -c "$3" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$B/api/v1/login"
}
tap_eq "$(login alice wrong-password "$TAP_TMP/x")" 401 "a wrong password is 401"
tap_eq "$(login alice alice-secret-pw "$TAP_TMP/alice")" 200 "alice logs in"
A_CSRF=$(jq -r .csrf_token "$TAP_TMP/login.json")
tap_match "$(cat "$TAP_TMP/alice")" "#HttpOnly_127.0.0.1.*keep_session" "the session cookie is HttpOnly"
tap_match "$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{"username":"alice","password":"alice-secret-pw"}' "$B/api/v1/login")" \
    "Set-Cookie: keep_session=[^;]+; Path=/; HttpOnly; SameSite=Strict" "the cookie is SameSite=Strict"
for i in 1 2 3; do login carol nope-nope "$TAP_TMP/x" >/dev/null; done
tap_eq "$(login carol carol-secret-pw "$TAP_TMP/x")" 429 "after 3 failures even the right password is refused (429)"
tap_match "$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d '{"username":"carol","password":"x"}' "$B/api/v1/login")" \
    "Retry-After: [0-9]+" "429 says when to retry"
tap_eq "$(login alice alice-secret-pw "$TAP_TMP/alice2")" 200 "another user is not locked out"

A="-b $TAP_TMP/alice"
search() { # search JAR CSRF QUERY [extra JSON]: the response body
    curl -s -b "$1" -H "X-CSRF-Token: $2" -H 'Content-Type: application/json' \
        -d "{\"query\":\"$3\"$4}" "$B/api/v1/search"
}

# ---- CSRF and Origin ----------------------------------------------------------------------------------
tap_eq "$(code POST /api/v1/search $A -H 'Content-Type: application/json' -d '{"query":"zirconium"}')" 403 "a cookie request without X-CSRF-Token is 403"
tap_eq "$(curl -s $A -H 'Content-Type: application/json' -d '{"query":"zirconium"}' "$B/api/v1/search" | jq -r .error.code)" csrf "the error says csrf"
tap_eq "$(code POST /api/v1/search $A -H 'X-CSRF-Token: wrong' -H 'Content-Type: application/json' -d '{"query":"zirconium"}')" 403 "a wrong CSRF token is 403"
tap_eq "$(code POST /api/v1/search $A -H "X-CSRF-Token: $A_CSRF" -H 'Origin: http://evil.example' -H 'Content-Type: application/json' -d '{"query":"zirconium"}')" 403 "a foreign Origin is 403"
tap_eq "$(code POST /api/v1/logout $A)" 403 "logout needs the CSRF token too"

# ---- search and access across groups --------------------------------------------------------------------
R=$(search "$TAP_TMP/alice" "$A_CSRF" "zirconium payroll ledger")
tap_match "$(printf '%s' "$R" | jq -r '.results[0].path')" "hr/salary[.]md$" "alice finds her group's document"
tap_eq "$(printf '%s' "$R" | jq -r '.results[0].collection')" hr "in collection hr"
R=$(search "$TAP_TMP/alice" "$A_CSRF" "quokka turbine schematic")
tap_eq "$(printf '%s' "$R" | jq '[.results[] | select(.collection == "eng")] | length')" 0 "alice never sees eng documents in search"
R=$(search "$TAP_TMP/alice" "$A_CSRF" "quokka turbine" ',"collection":"eng"')
tap_eq "$(printf '%s' "$R" | jq '[.results[] | select(.collection == "eng")] | length')" 0 "not even when she filters on eng"

ADMIN_TOKEN=$("$KEEP" --data "$D" user token admin tests)
tap_match "$ADMIN_TOKEN" '^keep_' "keep user token prints a token"
AT="Authorization: Bearer $ADMIN_TOKEN"
DOCS=$(curl -s -H "$AT" "$B/api/v1/documents")
ENG_ID=$(printf '%s' "$DOCS" | jq -r '.documents[] | select(.collection == "eng") | .id')
HR_ID=$(printf '%s' "$DOCS" | jq -r '.documents[] | select(.collection == "hr") | .id')
tap_match "$ENG_ID $HR_ID" '^[0-9]+ [0-9]+$' "the admin lists every document"
tap_eq "$(code GET "/api/v1/documents/$ENG_ID" $A)" 404 "alice cannot read another group's metadata (404)"
tap_eq "$(code GET "/api/v1/documents/$ENG_ID/text" $A)" 404 "nor its text"
tap_eq "$(code GET "/api/v1/documents/$ENG_ID/original" $A)" 404 "nor download it"
tap_eq "$(code DELETE "/api/v1/documents/$ENG_ID" $A -H "X-CSRF-Token: $A_CSRF")" 404 "nor delete it"
tap_eq "$(curl -s $A "$B/api/v1/documents" | jq '[.documents[] | select(.collection != "hr")] | length')" 0 "alice's document list holds only hr"
tap_eq "$(curl -s $A "$B/api/v1/collections" | jq -c '[.collections[].name]')" '["hr"]' "alice's collections: hr"
tap_match "$(curl -s $A "$B/api/v1/documents/$HR_ID/text" | jq -r .text)" "zirconium payroll ledger" "alice reads her document's text"
curl -s $A -o "$TAP_TMP/dl" -D "$TAP_TMP/dlh" "$B/api/v1/documents/$HR_ID/original"
cmp -s "$TAP_TMP/dl" "$TAP_TMP/hr/salary.md"; tap_ok $? "the download is the original file"
tap_match "$(cat "$TAP_TMP/dlh")" 'Content-Disposition: attachment; filename="salary.md"' "served as an attachment"
tap_eq "$(code DELETE "/api/v1/documents/$HR_ID" $A -H "X-CSRF-Token: $A_CSRF")" 403 "alice cannot delete a folder document"

# ---- path traversal -------------------------------------------------------------------------------------
bad=
for p in "/api/v1/documents/..%2F..%2Fetc%2Fpasswd/original" "/api/v1/documents/../../etc/passwd" \
    "/api/v1/documents/%2Fetc%2Fpasswd/original" "/api/v1/documents/-1/original" \
    "/api/v1/documents/1abc/text" "/api/v1/documents/0/original" \
    "/assets/../keep.db" "/assets/..%2F..%2Fkeep.db" "/assets/%2E%2E/keep.conf"; do
    c=$(curl -s --path-as-is -o "$TAP_TMP/trav" -w '%{http_code}' $A "$B$p")
    case "$c" in 404 | 400) ;; *) bad="$bad $p=$c" ;; esac
    grep -q 'root:' "$TAP_TMP/trav" && bad="$bad $p=leak"
done
tap_eq "$bad" "" "path traversal attempts get 404/400 and nothing leaks"

# ---- malformed and oversized bodies --------------------------------------------------------------------
CS="-H X-CSRF-Token:$A_CSRF"
tap_eq "$(code POST /api/v1/search $A $CS -H 'Content-Type: application/json' -d '{"query":')" 400 "malformed JSON is 400"
tap_eq "$(code POST /api/v1/search $A $CS -H 'Content-Type: application/json' -d '[1,2]')" 400 "a JSON array is 400"
tap_eq "$(code POST /api/v1/search $A $CS -H 'Content-Type: application/json' -d '{"k":3}')" 400 "a missing query is 400"
tap_eq "$(code POST /api/v1/search $A $CS -H 'Content-Type: application/json' -d '{"query":"x","k":100000}')" 400 "k out of range is 400"
tap_eq "$(code POST /api/v1/search $A $CS -H 'Content-Type: text/plain' -d '{"query":"x"}')" 415 "a non-JSON content type is 415"
head -c 1100000 /dev/zero | tr '\0' 'a' > "$TAP_TMP/big.json"
tap_eq "$(code POST /api/v1/search $A $CS -H 'Content-Type: application/json' --data-binary @"$TAP_TMP/big.json")" 413 "a JSON body over 1 MiB is 413"
tap_eq "$(code POST /api/v1/documents $A $CS -F "file=@$TAP_TMP/big.json;filename=big.txt")" 413 "an upload over max_upload_mb is 413"
tap_eq "$(code POST /api/v1/documents $A $CS -H 'Content-Type: application/json' -d '{}')" 400 "an upload that is not multipart is 400"
tap_eq "$(code POST /api/v1/documents $A $CS -F collection=hr)" 400 "an upload without a file is 400"
LONG=$(head -c 40000 /dev/zero | tr '\0' 'a')
c=$(code GET "/healthz" -H "X-Long: $LONG")
case "$c" in 431 | 413) tap_ok 0 "oversized headers are refused ($c)" ;; *) tap_ok 1 "oversized headers are refused (got $c)" ;; esac
c=$(code GET "/healthz?$LONG")
case "$c" in 414 | 431) tap_ok 0 "an oversized URL is refused ($c)" ;; *) tap_ok 1 "an oversized URL is refused (got $c)" ;; esac

# ---- upload ------------------------------------------------------------------------------------------------
printf '# Canteen\n\nThe marzipan canteen rota rotates fortnightly.\n' > "$TAP_TMP/canteen.md"
R=$(curl -s $A $CS -F collection=hr -F "file=@$TAP_TMP/canteen.md" "$B/api/v1/documents")
tap_eq "$(printf '%s' "$R" | jq -r '.documents[0].status')" indexed "an upload is indexed"
UP_ID=$(printf '%s' "$R" | jq -r '.documents[0].id')
R=$(search "$TAP_TMP/alice" "$A_CSRF" "marzipan canteen rota")
tap_eq "$(printf '%s' "$R" | jq -r '.results[0].doc_id')" "$UP_ID" "the upload is searchable at once"
printf '\001\002\003binary\000junk' > "$TAP_TMP/junk.bin"
R=$(curl -s $A $CS -F collection=hr -F "file=@$TAP_TMP/junk.bin;filename=../../junk.bin" "$B/api/v1/documents")
tap_match "$(printf '%s' "$R" | jq -r '.documents[0].status + " " + .documents[0].name')" "^(skipped|failed) junk[.]bin$" "a binary upload is recorded with a reason, under its base name"
tap_match "$(printf '%s' "$R" | jq -r '.documents[0].error')" "." "the reason is given"
tap_eq "$(code POST /api/v1/documents $A $CS -F collection=eng -F "file=@$TAP_TMP/canteen.md")" 403 "alice cannot upload into eng"
tap_eq "$(code DELETE "/api/v1/documents/$UP_ID" $A $CS)" 200 "alice deletes her upload"
tap_eq "$(code GET "/api/v1/documents/$UP_ID" $A)" 404 "it is gone"

# ---- API tokens ----------------------------------------------------------------------------------------------
R=$(curl -s $A $CS -H 'Content-Type: application/json' -d '{"name":"laptop"}' "$B/api/v1/tokens")
TOK=$(printf '%s' "$R" | jq -r .token)
TOK_ID=$(printf '%s' "$R" | jq -r .id)
tap_match "$TOK" '^keep_[A-Za-z0-9_-]{43}$' "a token is created and shown once"
tap_eq "$(curl -s $A "$B/api/v1/tokens" | jq -r '.tokens[0] | has("token")')" false "the token list never shows the secret"
tap_eq "$(code POST /api/v1/search -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' -d '{"query":"zirconium"}')" 200 "a bearer token searches without CSRF"
R=$(curl -s -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' -d '{"query":"quokka turbine"}' "$B/api/v1/search")
tap_eq "$(printf '%s' "$R" | jq '[.results[] | select(.collection == "eng")] | length')" 0 "a token searches as its user"
tap_eq "$(code DELETE "/api/v1/tokens/$TOK_ID" -b "$TAP_TMP/x" -H "Authorization: Bearer $TOK")" 200 "the token is revoked"
tap_eq "$(code GET /api/v1/documents -H "Authorization: Bearer $TOK")" 401 "a revoked token is 401"
if sqlite3 "$D/keep.db" "SELECT hash FROM api_tokens" 2>/dev/null | grep -q "$TOK"; then
    tap_ok 1 "tokens are stored hashed"
else tap_ok 0 "tokens are stored hashed"; fi

# ---- admin ---------------------------------------------------------------------------------------------------
tap_eq "$(code GET /api/v1/admin/users $A)" 403 "alice is not an admin (403)"
tap_eq "$(curl -s -H "$AT" "$B/api/v1/admin/users" | jq -r '[.users[].name] | sort | join(",")')" "admin,alice,bob,carol" "the admin lists users"
R=$(curl -s -H "$AT" -H 'Content-Type: application/json' -d '{"name":"dave","groups":["eng"]}' "$B/api/v1/admin/users")
DAVE_PW=$(printf '%s' "$R" | jq -r .password)
tap_match "$DAVE_PW" '^[A-Za-z0-9]{20}$' "a user created without a password gets a generated one"
tap_eq "$(login dave "$DAVE_PW" "$TAP_TMP/dave")" 200 "the new user logs in"
D_CSRF=$(jq -r .csrf_token "$TAP_TMP/login.json")
R=$(search "$TAP_TMP/dave" "$D_CSRF" "quokka turbine schematic")
tap_eq "$(printf '%s' "$R" | jq -r '.results[0].collection')" eng "dave (eng) finds eng documents"
tap_eq "$(code PUT /api/v1/admin/collections/hr/grants/eng -H "$AT")" 200 "the admin grants hr to eng"
R=$(search "$TAP_TMP/dave" "$D_CSRF" "zirconium payroll")
tap_eq "$(printf '%s' "$R" | jq -r '.results[0].collection')" hr "and dave now finds hr documents"
tap_eq "$(code DELETE /api/v1/admin/collections/hr/grants/eng -H "$AT")" 200 "the grant is revoked"
R=$(search "$TAP_TMP/dave" "$D_CSRF" "zirconium payroll")
tap_eq "$(printf '%s' "$R" | jq '[.results[] | select(.collection == "hr")] | length')" 0 "and hr is hidden again"
tap_eq "$(curl -s -H "$AT" "$B/api/v1/admin/groups" | jq -r '.groups[] | select(.name == "eng") | .users | sort | join(",")')" "bob,dave" "groups list their users"
tap_eq "$(curl -s -H "$AT" "$B/api/v1/admin/collections" | jq -r '.collections[] | select(.name == "hr") | .groups | join(",")')" hr "collections list their groups"
tap_eq "$(code PUT /api/v1/admin/users/dave/password -H "$AT" -H 'Content-Type: application/json' -d '{"password":"dave-new-password"}')" 200 "the admin sets a password"
tap_eq "$(code GET /api/v1/session -b "$TAP_TMP/dave")" 401 "which ends the user's sessions"
tap_eq "$(code DELETE /api/v1/admin/users/dave -H "$AT")" 200 "the admin removes a user"
tap_eq "$(login dave dave-new-password "$TAP_TMP/x")" 401 "who can no longer log in"
tap_eq "$(code DELETE /api/v1/admin/users/admin -H "$AT")" 409 "an admin cannot remove their own account"
tap_eq "$(curl -s -H "$AT" "$B/api/v1/admin/tokens" | jq '[.tokens[] | select(.revoked)] | length')" 1 "the admin sees every token"

# a drop folder, watched by the server
R=$(curl -s -H "$AT" -H 'Content-Type: application/json' -d "{\"path\":\"$TAP_TMP/drop\",\"collection\":\"hr\"}" "$B/api/v1/admin/folders")
FOLDER_ID=$(printf '%s' "$R" | jq -r .id)
tap_match "$FOLDER_ID" '^[0-9]+$' "the admin adds a drop folder"
tap_eq "$(code POST /api/v1/admin/folders -H "$AT" -H 'Content-Type: application/json' -d "{\"path\":\"$D\"}")" 400 "the data directory cannot be a drop folder"
sleep 0.5
printf 'The obsidian greenhouse thermostat reads nineteen.\n' > "$TAP_TMP/drop/greenhouse.txt"
found=1
i=0
while [ $i -lt 80 ]; do
    R=$(search "$TAP_TMP/alice" "$A_CSRF" "obsidian greenhouse thermostat")
    if [ "$(printf '%s' "$R" | jq -r '.results[0].path // empty')" = "$TAP_TMP/drop/greenhouse.txt" ] ||
        printf '%s' "$R" | jq -r '.results[0].path // empty' | grep -q 'drop/greenhouse[.]txt$'; then
        found=0
        break
    fi
    sleep 0.2
    i=$((i + 1))
done
tap_ok $found "a file dropped into the folder becomes searchable"
tap_eq "$(code DELETE "/api/v1/admin/folders/$FOLDER_ID" -H "$AT")" 200 "the drop folder is removed"

# ---- metrics, log, logout -------------------------------------------------------------------------------------
M=$(curl -s "$B/metrics")
tap_match "$M" 'keep_http_requests_total\{method="POST",route="/api/v1/search",code="2xx"\} [1-9]' "metrics count requests by route"
tap_match "$M" 'keep_http_request_duration_seconds_bucket\{method="POST",route="/api/v1/search",le="\+Inf"\}' "and their latencies"
tap_match "$M" 'keep_documents\{status="indexed"\} [1-9]' "and the documents indexed"
tap_match "$M" 'keep_chunks [1-9]' "and the chunks"
tap_eq "$(code POST /api/v1/logout $A $CS)" 200 "alice logs out"
tap_eq "$(code GET /api/v1/session $A)" 401 "the session is gone"
tap_match "$(cat "$TAP_TMP/err")" 'POST /api/v1/search 200 [0-9.]+ms alice 127[.]0[.]0[.]1' "the log names method, route, status, latency and user"
if grep -Eq 'zirconium|quokka|marzipan|obsidian' "$TAP_TMP/err"; then tap_ok 1 "no query or document text in the server log"
else tap_ok 0 "no query or document text in the server log"; fi

# ---- graceful shutdown --------------------------------------------------------------------------------------
head -c 300000 /dev/zero | tr '\0' 'x' | fold -w 80 > "$TAP_TMP/slow.txt"
login alice alice-secret-pw "$TAP_TMP/alice" >/dev/null
A_CSRF=$(jq -r .csrf_token "$TAP_TMP/login.json")
curl -s -o "$TAP_TMP/slow.json" -w '%{http_code}' --limit-rate 150k -b "$TAP_TMP/alice" \
    -H "X-CSRF-Token: $A_CSRF" -F collection=hr -F "file=@$TAP_TMP/slow.txt" \
    "$B/api/v1/documents" > "$TAP_TMP/slow.code" &
cpid=$!
sleep 0.7
kill -TERM "$pid"
wait "$cpid"
wait "$pid"
tap_eq $? 0 "SIGTERM stops the server with exit 0"
pid=
tap_eq "$(cat "$TAP_TMP/slow.code")" 201 "an upload in flight at SIGTERM still completes"
tap_match "$(cat "$TAP_TMP/err")" "keep: stopped" "the server says it stopped"

tap_done
