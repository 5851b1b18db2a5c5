#!/bin/sh
# e2e_cli.sh — the keep binary end to end: CLI conventions, ingest of samples/,
# search JSON shape and locations, unchanged/changed/removed/failed files.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"

"$KEEP" --version >/dev/null; tap_ok $? "keep --version exits 0"
"$KEEP" help >/dev/null; tap_ok $? "keep help exits 0"
"$KEEP" search --help | grep -q "usage: keep search"; tap_ok $? "keep search --help prints usage"
"$KEEP" frobnicate 2>"$TAP_TMP/err"; tap_eq $? 2 "unknown command is a usage error (2)"
tap_eq "$(wc -l <"$TAP_TMP/err" | tr -d ' ')" 1 "error is one line on stderr"
"$KEEP" search -k zero x 2>/dev/null; tap_eq $? 2 "bad option value is a usage error"
"$KEEP" --data "$TAP_TMP/none" search backups 2>/dev/null; tap_eq $? 1 "search without data fails (1)"

# ingest the samples
cp -r "$KEEP_SRCDIR/samples" "$TAP_TMP/samples"
out=$("$KEEP" --data "$D" ingest "$TAP_TMP/samples" 2>"$TAP_TMP/err"); tap_ok $? "ingest samples exits 0"
tap_match "$out" "added" "ingest prints a summary"
tap_eq "$(grep -c $(printf '\033') "$TAP_TMP/err")" 0 "no progress escapes when not a terminal"
test -f "$D/keep.conf" && test -f "$D/keep.db"; tap_ok $? "data directory holds keep.conf and keep.db"

json=$("$KEEP" --data "$D" search --json -k 3 "how long are monthly full backups kept")
tap_ok $? "search --json exits 0"
printf '%s' "$json" | jq -e . >/dev/null; tap_ok $? "search --json is one JSON document"
tap_eq "$(printf '%s' "$json" | jq -r '.mode')" "hybrid" "mode is hybrid by default once embeddings exist"
tap_eq "$(printf '%s' "$json" | jq -r '.results[0].path | sub(".*/"; "")')" "backup-policy.md" "top hit is the backup policy"
tap_eq "$(printf '%s' "$json" | jq -r '.results[0].location.heading')" "Backup and Restore Policy > Retention" "heading path of the retention table"
tap_match "$(printf '%s' "$json" | jq -r '.results[0].text')" "Backup type: Monthly full; Retention: 7 years" "table row rendered with header names"
tap_eq "$(printf '%s' "$json" | jq -r '.results[0] | (has("rank") and has("score") and has("doc_id") and has("title") and has("collection") and has("start") and has("end") and has("snippet") and (.location|has("page") and has("slide") and has("sheet")))')" "true" "result has every documented field"
tap_match "$(printf '%s' "$json" | jq -r '.results[0].snippet')" "\[[A-Za-z]+\]" "snippet marks matched words"
tap_eq "$(printf '%s' "$json" | jq -r '.results[0].location.page')" "null" "markdown has no page"
tap_eq "$(printf '%s' "$json" | jq -r '.took_ms | type')" "number" "took_ms is a number"

# offsets point into the stored text: the chunk text equals text[start:end]
doc=$(printf '%s' "$json" | jq -r '.results[0].doc_id')
start=$(printf '%s' "$json" | jq -r '.results[0].start')
end=$(printf '%s' "$json" | jq -r '.results[0].end')
stored=$(sqlite3 "$D/keep.db" "SELECT substr(text, $start + 1, $end - $start) FROM doc_text WHERE doc_id = $doc")
tap_eq "$stored" "$(printf '%s' "$json" | jq -r '.results[0].text')" "start/end are character offsets into the document text"

out=$("$KEEP" --data "$D" search "VPN gateway certificate rotated")
tap_match "$out" "vpn-incident.txt" "plain text runbook found"

# hostile queries through the CLI
for q in '"' 'NEAR(' '*' '-' ':' 'title:x' '(' 'AND OR NOT' "'; DROP TABLE chunks; --" '日本語' ''; do
    "$KEEP" --data "$D" search --json -- "$q" >/dev/null 2>&1 || "$KEEP" --data "$D" search --json "$q" >/dev/null 2>&1
    tap_ok $? "hostile query [$q] does not fail"
done

# unchanged, changed, removed, failed
out=$("$KEEP" --data "$D" ingest --json "$TAP_TMP/samples")
tap_eq "$(printf '%s' "$out" | jq -r '.added + .updated')" "0" "re-ingest changes nothing"
tap_eq "$(printf '%s' "$out" | jq -r '.unchanged > 0')" "true" "re-ingest reports unchanged files"
sed -i 's/35 days/42 days/' "$TAP_TMP/samples/policies/backup-policy.md"
touch -d '+1 minute' "$TAP_TMP/samples/policies/backup-policy.md"
rm "$TAP_TMP/samples/hr/onboarding-checklist.md"
printf 'this is not an e-mail at all\n' > "$TAP_TMP/samples/broken.eml"
printf 'caf\351 cr\350me br\373l\351e\n' > "$TAP_TMP/samples/legacy.txt"
cp /bin/true "$TAP_TMP/samples/tool.bin"
out=$("$KEEP" --data "$D" ingest --json "$TAP_TMP/samples"); rc=$?
tap_eq "$rc" "1" "exit status 1 when a file failed"
tap_eq "$(printf '%s' "$out" | jq -r '.updated')" "1" "changed file updated"
tap_eq "$(printf '%s' "$out" | jq -r '.added')" "1" "legacy-encoded file added"
tap_eq "$(printf '%s' "$out" | jq -r '.removed')" "1" "deleted file removed"
tap_eq "$(printf '%s' "$out" | jq -r '.failed')" "1" "broken file failed"
tap_eq "$(printf '%s' "$out" | jq -r '.skipped')" "1" "binary file skipped"
tap_match "$("$KEEP" --data "$D" search "nightly incremental retention")" "42 days" "changed content searchable"
tap_eq "$("$KEEP" --data "$D" search --json "probation period feedback" | jq '[.results[] | select(.path | test("onboarding"))] | length')" "0" "removed file not found"
failed=$("$KEEP" --data "$D" docs list --failed --json)
tap_eq "$(printf '%s' "$failed" | jq -r '.documents | length')" "1" "docs list --failed lists one document"
tap_match "$(printf '%s' "$failed" | jq -r '.documents[0].error')" "eml" "failure reason says why"
tap_eq "$(sqlite3 "$D/keep.db" "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE d.path LIKE '%broken.eml'")" "0" "nothing of the failed file stored"
tap_match "$("$KEEP" --data "$D" search "crème brûlée")" "legacy.txt" "legacy 8-bit text decoded and found"

# docs rm
id=$("$KEEP" --data "$D" docs list --json | jq -r '.documents[] | select(.path | test("travel-expenses")) | .id')
"$KEEP" --data "$D" docs rm "$id" >/dev/null; tap_ok $? "docs rm exits 0"
tap_eq "$("$KEEP" --data "$D" search --json "per diem Rotterdam hotel cap" | jq '[.results[] | select(.path | test("travel"))] | length')" "0" "removed document not returned"
test -f "$TAP_TMP/samples/policies/travel-expenses.md"; tap_ok $? "the file itself is untouched"
"$KEEP" --data "$D" docs rm 99999 2>/dev/null; tap_eq $? 1 "rm of unknown id fails"

tap_done
