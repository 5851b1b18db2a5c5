#!/bin/sh
# e2e_audit.sh — the audit log end to end: every audited action through
# `keep serve` (login success and failure, search, ask as JSON and as SSE,
# /v1/chat/completions, document text, download, upload, delete, admin
# changes, tokens) writes its row with the right user, query and document
# ids; the admin endpoints (audit, verify, status) and their 403 for others;
# `keep audit` and `keep audit verify`, a row tampered with via sqlite3 found;
# retention by `keep audit prune`; no query and no document text in the
# server log.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TAP_TMP"' EXIT

mkdir -p "$D" "$TAP_TMP/hr" "$TAP_TMP/eng" "$TAP_TMP/drop"
cat > "$D/keep.conf" <<'EOF'
[web]
threads = 2
timeout_s = 10

[audit]
retention_days = 30
EOF
printf '# Salaries\n\nThe zirconium payroll ledger closes on the ninth of each month.\n' > "$TAP_TMP/hr/salary.md"
printf '# Turbine\n\nThe quokka turbine schematic is in revision four.\n' > "$TAP_TMP/eng/design.md"
"$KEEP" --data "$D" ingest --collection hr "$TAP_TMP/hr" >/dev/null
"$KEEP" --data "$D" ingest --collection eng "$TAP_TMP/eng" >/dev/null
"$KEEP" --data "$D" user add alice hr
"$KEEP" --data "$D" user add bob eng
"$KEEP" --data "$D" collection grant hr hr
"$KEEP" --data "$D" collection grant eng eng
echo 'alice-secret-pw' | "$KEEP" --data "$D" user passwd alice

tap_serve "$D" "$TAP_TMP/out" "$TAP_TMP/err"
pid=$SRV_PID PORT=$SRV_PORT B=$SRV_URL
tap_match "$PORT" '^[0-9]+$' "keep serve is up"
ADM=$("$KEEP" --data "$D" user token admin audit-test)
AL=$("$KEEP" --data "$D" user token alice audit-test)
BO=$("$KEEP" --data "$D" user token bob audit-test)
HR_ID=$("$KEEP" --data "$D" docs list --json | jq -r '.documents[] | select(.collection=="hr") | .id' | head -1)
tap_match "$HR_ID" '^[0-9]+$' "the hr document has an id"

# code METHOD PATH TOKEN [curl args...]: the HTTP status
code() {
    m=$1 p=$2 t=$3
    shift 3
    curl -s -o /dev/null -w '%{http_code}' -X "$m" -H "Authorization: Bearer $t" "$@" "$B$p"
}
json() { # json METHOD PATH TOKEN BODY: the response body
    curl -s -X "$1" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' -d "$4" "$B$2"
}
# audit QUERYSTRING: the admin's view of the log
audit() { curl -s -H "Authorization: Bearer $ADM" "$B/api/v1/admin/audit?$1"; }

# ---- actions ----------------------------------------------------------------------------------------
lg() {
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"username\":\"alice\",\"password\":\"$1\"}" "$B/api/v1/login"
}
tap_eq "$(lg wrong-password)" 401 "a failed login"
tap_eq "$(lg alice-secret-pw)" 200 "a login"
R=$(json POST /api/v1/search "$AL" '{"query":"zirconium payroll ledger"}')
tap_eq "$(printf '%s' "$R" | jq -r '.results[0].doc_id')" "$HR_ID" "alice's search finds the hr document"
R=$(json POST /api/v1/ask "$AL" '{"question":"When does the zirconium payroll ledger close?"}')
tap_eq "$(printf '%s' "$R" | jq -r '.citations[0].doc_id')" "$HR_ID" "alice's answer cites the hr document"
S=$(curl -s -N -H "Authorization: Bearer $AL" -H 'Content-Type: application/json' \
    -d '{"question":"When does the zirconium payroll ledger close each month?","stream":true}' "$B/api/v1/ask")
tap_match "$S" "event: done" "a streamed answer"
R=$(json POST /v1/chat/completions "$AL" '{"model":"keep","messages":[{"role":"user","content":"zirconium payroll ledger closing day?"}]}')
tap_eq "$(printf '%s' "$R" | jq -r '.object')" chat.completion "a chat completion"
tap_eq "$(code GET "/api/v1/documents/$HR_ID/text" "$AL")" 200 "alice reads the text"
tap_eq "$(code GET "/api/v1/documents/$HR_ID/original" "$AL")" 200 "alice downloads the original"
tap_eq "$(code GET "/api/v1/documents/$HR_ID/text" "$BO")" 404 "bob may not read it"
printf 'The marzipan canteen rota changes weekly.\n' > "$TAP_TMP/canteen.md"
R=$(curl -s -H "Authorization: Bearer $AL" -F collection=hr -F "file=@$TAP_TMP/canteen.md" "$B/api/v1/documents")
UP_ID=$(printf '%s' "$R" | jq -r '.documents[0].id')
tap_match "$UP_ID" '^[0-9]+$' "alice uploads a file"
tap_eq "$(code DELETE "/api/v1/documents/$UP_ID" "$AL")" 200 "alice deletes it"
tap_eq "$(code POST /api/v1/admin/users "$ADM" -H 'Content-Type: application/json' -d '{"name":"dave","password":"dave-secret-pw"}')" 201 "the admin adds a user"
tap_eq "$(code PUT /api/v1/admin/users/dave/groups/eng "$ADM")" 200 "and puts him in a group"
tap_eq "$(code PUT /api/v1/admin/collections/hr/grants/eng "$ADM")" 200 "grants a collection"
tap_eq "$(code DELETE /api/v1/admin/collections/hr/grants/eng "$ADM")" 200 "revokes it"
tap_eq "$(code POST /api/v1/admin/folders "$ADM" -H 'Content-Type: application/json' -d "{\"path\":\"$TAP_TMP/drop\",\"collection\":\"eng\"}")" 201 "adds a drop folder"
tap_eq "$(code POST /api/v1/tokens "$AL" -H 'Content-Type: application/json' -d '{"name":"laptop"}')" 201 "alice creates a token"
tap_eq "$(code PUT /api/v1/admin/users/dave/password "$ADM" -H 'Content-Type: application/json' -d '{"password":"dave-other-pw"}')" 200 "sets his password"

# ---- what the Admin page reads (web/assets/admin.js) --------------------------------------------------
G() { curl -s -H "Authorization: Bearer $ADM" "$B$1"; }
tap_eq "$(G /api/v1/admin/users | jq -r '.users[] | select(.name=="dave") | (.admin|tostring) + " " + (.groups|join(","))')" "false eng" "users: name, role, groups"
tap_eq "$(G /api/v1/admin/groups | jq -r '.groups[] | select(.name=="eng") | (.users|join(",")) + " " + (.collections|join(","))')" "bob,dave eng" "groups: users and collections"
tap_eq "$(G /api/v1/admin/collections | jq -r '.collections[] | select(.name=="hr") | (.documents|tostring) + " " + (.groups|join(","))')" "1 hr" "collections: documents and grants"
FID=$(G /api/v1/admin/folders | jq -r '.folders[0].id')
tap_match "$(G /api/v1/admin/folders | jq -r '.folders[0].path + " " + .folders[0].collection')" "/drop eng$" "folders: path and collection"
tap_eq "$(code DELETE "/api/v1/admin/folders/$FID" "$ADM")" 200 "removes the drop folder"
tap_eq "$(code DELETE /api/v1/admin/users/dave/groups/eng "$ADM")" 200 "takes him out of the group"
tap_eq "$(code DELETE /api/v1/admin/users/dave "$ADM")" 200 "the admin removes the user"
PAGE=$(curl -s "$B/")
tap_match "$PAGE" 'id="view-admin"' "the UI page has the Admin section"
tap_match "$PAGE" '<script src="/assets/admin.js" defer>' "and loads admin.js"
tap_match "$(curl -s -D - -o /dev/null "$B/assets/admin.js")" "Content-Type: text/javascript" "admin.js is embedded"
tap_eq "$(curl -s "$B/api/v1/openapi.json" | jq -r '[.paths | has("/api/v1/admin/audit", "/api/v1/admin/audit/verify", "/api/v1/admin/status")] | all')" true "the OpenAPI document lists the audit and status endpoints"

# ---- the rows ---------------------------------------------------------------------------------------
tap_eq "$(code GET /api/v1/admin/audit "$AL")" 403 "a non-admin gets 403 on the audit log"
tap_eq "$(code GET /api/v1/admin/audit "$BO")" 403 "so does bob"
tap_eq "$(code GET /api/v1/admin/status "$BO")" 403 "and on the status"
tap_eq "$(code GET /api/v1/admin/audit/verify "$AL")" 403 "and on verify"
tap_eq "$(curl -s -o /dev/null -w '%{http_code}' "$B/api/v1/admin/audit")" 401 "without credentials: 401"

R=$(audit "user=alice&action=search")
tap_eq "$(printf '%s' "$R" | jq -r '.entries | length')" 1 "one search row for alice"
tap_eq "$(printf '%s' "$R" | jq -r '.entries[0].query')" "zirconium payroll ledger" "with the query"
tap_eq "$(printf '%s' "$R" | jq -r '.entries[0].returned | index('"$HR_ID"') != null')" true "and the returned document"
tap_eq "$(printf '%s' "$R" | jq -r '.entries[0].via + " " + .entries[0].remote + " " + (.entries[0].status|tostring)')" "token 127.0.0.1 200" "via token, from where, status"
R=$(audit "user=alice&action=ask")
tap_eq "$(printf '%s' "$R" | jq -r '.entries | length')" 2 "two ask rows (JSON and SSE)"
tap_eq "$(printf '%s' "$R" | jq -r '.entries[0].query')" "When does the zirconium payroll ledger close each month?" "the streamed question (newest first)"
tap_eq "$(printf '%s' "$R" | jq -c '.entries[0].cited')" "[$HR_ID]" "the streamed answer's cited document"
tap_eq "$(printf '%s' "$R" | jq -c '.entries[1].cited')" "[$HR_ID]" "the JSON answer's cited document"
R=$(audit "action=chat")
tap_eq "$(printf '%s' "$R" | jq -r '.entries[0].user + " " + .entries[0].query')" "alice zirconium payroll ledger closing day?" "the chat row: user and question"
tap_eq "$(printf '%s' "$R" | jq -c '.entries[0].cited')" "[$HR_ID]" "the chat row's cited document"
R=$(audit "action=view")
tap_eq "$(printf '%s' "$R" | jq -r '[.entries[] | .user + ":" + (.status|tostring)] | join(",")')" "bob:404,alice:200" "view rows: bob refused, alice served"
tap_eq "$(printf '%s' "$R" | jq -c '.entries[1].returned')" "[$HR_ID]" "the viewed document"
tap_eq "$(audit "action=download" | jq -c '.entries[0].returned')" "[$HR_ID]" "the downloaded document"
tap_eq "$(audit "action=upload" | jq -r '.entries[0].target + " " + (.entries[0].returned[0]|tostring)')" "hr $UP_ID" "the upload: collection and new document"
tap_eq "$(audit "action=delete" | jq -r '.entries[0].returned[0]')" "$UP_ID" "the deleted document"
R=$(audit "action=login")
tap_eq "$(printf '%s' "$R" | jq -r '[.entries[] | .target + ":" + (.status|tostring) + ":" + .user] | join(",")')" "alice:200:alice,alice:401:" "login success and failure (the name tried as target)"
tap_eq "$(audit "user=admin&action=user_add" | jq -r '.entries[0].target')" "dave" "user_add row"
tap_eq "$(audit "action=group_join" | jq -r '.entries[0].target')" "dave/eng" "group_join row"
tap_eq "$(audit "action=grant" | jq -r '.entries[0].target')" "hr/eng" "grant row"
tap_eq "$(audit "action=revoke" | jq -r '.entries[0].target')" "hr/eng" "revoke row"
tap_match "$(audit "action=folder_add" | jq -r '.entries[0].target')" "/drop -> eng$" "folder_add row"
tap_eq "$(audit "action=token_create" | jq -r '.entries[0].user + " " + .entries[0].target')" "alice laptop" "token_create row"
tap_eq "$(audit "action=user_remove" | jq -r '.entries[0].target')" "dave" "user_remove row"
tap_eq "$(audit "action=user_password" | jq -r '.entries[0].target')" "dave" "user_password row"
tap_eq "$(audit "action=group_leave" | jq -r '.entries[0].target')" "dave/eng" "group_leave row"
tap_eq "$(audit "action=folder_remove" | jq -r '.entries[0].target')" "$FID" "folder_remove row"
R=$(audit "limit=2")
tap_eq "$(printf '%s' "$R" | jq -r '.entries | length')" 2 "limit pages the log"
NEXT=$(printf '%s' "$R" | jq -r '.next_before')
tap_match "$NEXT" '^[0-9]+$' "with a cursor to the next page"
tap_eq "$(audit "limit=2&before=$NEXT" | jq -r '.entries[0].id')" "$((NEXT - 1))" "the next page starts below it"
tap_eq "$(audit "since=2000-01-01&until=2000-12-31" | jq -r '.entries | length')" 0 "a time window with no rows"
tap_eq "$(audit "since=yesterday" | jq -r '.error.code')" bad_request "a bad date is 400"
R=$(curl -s -H "Authorization: Bearer $ADM" "$B/api/v1/admin/status")
tap_eq "$(printf '%s' "$R" | jq -r '.index.documents')" 2 "status: documents indexed"
tap_match "$(printf '%s' "$R" | jq -r '.index.chunks')" '^[1-9][0-9]*$' "status: chunks"
tap_eq "$(printf '%s' "$R" | jq -r '.model.answers')" extractive "status: answer mode without a model"
tap_eq "$(printf '%s' "$R" | jq -r '.audit.retention_days')" 30 "status: retention"
tap_eq "$(curl -s -H "Authorization: Bearer $ADM" "$B/api/v1/admin/audit/verify" | jq -r .ok)" true "the chain verifies over HTTP"

# ---- the server log ---------------------------------------------------------------------------------
tap_eq "$(grep -ci 'zirconium\|payroll\|marzipan' "$TAP_TMP/err")" 0 "no query and no document text in the server log"

kill "$pid"
wait "$pid" 2>/dev/null
pid=

# ---- the CLI, tampering, retention ------------------------------------------------------------------
tap_match "$("$KEEP" --data "$D" audit --user alice --action search)" "zirconium payroll ledger" "keep audit --user shows the search"
tap_eq "$("$KEEP" --data "$D" audit --json --action ask | jq -r '.entries | length')" 2 "keep audit --json"
tap_match "$("$KEEP" --data "$D" audit verify)" "^audit log intact: [0-9]+ rows" "keep audit verify: intact"
tap_eq "$("$KEEP" --data "$D" audit prune --days 1)" "pruned 0 rows older than 1 days" "nothing older than a day to prune"
sqlite3 "$D/keep-audit.db" "UPDATE audit_log SET query = 'nothing' WHERE action = 'search'" 2>/dev/null
tap_ok $([ $? -ne 0 ] && echo 0 || echo 1) "sqlite3 UPDATE refused by the append-only trigger"
SID=$(sqlite3 "$D/keep-audit.db" "SELECT id FROM audit_log WHERE action = 'search' AND user = 'alice'")
sqlite3 "$D/keep-audit.db" "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET query = 'nothing' WHERE id = $SID"
OUT=$("$KEEP" --data "$D" audit verify)
tap_eq $? 1 "keep audit verify fails on a tampered log"
tap_match "$OUT" "BROKEN at row $SID:" "and names the tampered row"
tap_done
