#!/bin/sh
# e2e_watch.sh — `keep watch` end to end: files already in the folder are
# synced on start, a file copied in becomes searchable, a deleted one (and a
# deleted folder) disappears, temp files are ignored, SIGTERM exits 0.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"
W="$TAP_TMP/drop"
mkdir -p "$W"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TAP_TMP"' EXIT

"$KEEP" watch --help | grep -q "usage: keep watch"; tap_ok $? "keep watch --help prints usage"
"$KEEP" --data "$D" watch 2>/dev/null; tap_eq $? 2 "watch without a folder (none configured) is a usage error"
"$KEEP" --data "$D" watch --collection x "$W" 2>/dev/null; tap_eq $? 2 "--collection before any folder is a usage error"
"$KEEP" --data "$D" watch "$TAP_TMP/nope" --collection x 2>/dev/null; tap_eq $? 1 "watching a missing folder fails"

printf '# Ledger\n\nThe quartermaster ledger lists seventeen brass lanterns.\n' > "$W/existing.md"
"$KEEP" --data "$D" watch --settle-ms 200 "$W" --collection drop >"$TAP_TMP/watch.log" 2>&1 &
pid=$!

# wait_search QUERY PATH_REGEX found|gone: polls `keep search --json` for up to 10 s
wait_search() {
    i=0
    while [ $i -lt 100 ]; do
        n=$("$KEEP" --data "$D" search --json "$1" 2>/dev/null |
            jq --arg re "$2" '[.results[] | select(.path | test($re))] | length' 2>/dev/null)
        if [ "$3" = found ] && [ "${n:-0}" -gt 0 ]; then return 0; fi
        if [ "$3" = gone ] && [ "${n:-x}" = 0 ]; then return 0; fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

wait_search "quartermaster brass lanterns" "existing[.]md$" found; tap_ok $? "a file already there is synced on start"

printf 'The heliotrope courier delivers zeppelin manifests on Tuesdays.\n' > "$TAP_TMP/courier.txt"
cp "$TAP_TMP/courier.txt" "$W/courier.txt"
wait_search "heliotrope zeppelin courier" "/drop/courier[.]txt$" found; tap_ok $? "a file copied in becomes searchable"
tap_eq "$("$KEEP" --data "$D" search --json "heliotrope zeppelin" | jq -r '.results[0].collection')" "drop" "it is in the watched folder's collection"

mkdir "$W/team"
printf 'Marmalade budget for the observatory picnic is forty crowns.\n' > "$W/team/picnic.md"
wait_search "marmalade observatory picnic" "/team/picnic[.]md$" found; tap_ok $? "a file in a new subfolder becomes searchable"

printf 'ephemeral walrus draft\n' > "$W/draft.tmp"
rm "$W/courier.txt"
wait_search "heliotrope zeppelin courier" "courier[.]txt$" gone; tap_ok $? "a deleted file disappears from search"
tap_eq "$("$KEEP" --data "$D" docs list --json | jq '[.documents[] | select(.path | test("draft[.]tmp"))] | length')" "0" "temp files are not indexed"

rm -r "$W/team"
wait_search "marmalade observatory picnic" "picnic[.]md$" gone; tap_ok $? "a deleted folder's documents disappear"
test -f "$W/existing.md"; tap_ok $? "user files are left alone"

kill -TERM "$pid"
wait "$pid"; tap_eq $? 0 "SIGTERM stops the watcher with exit 0"
pid=
tap_match "$(cat "$TAP_TMP/watch.log")" "added .*/courier[.]txt" "the log names what was added"
tap_match "$(cat "$TAP_TMP/watch.log")" "removed .*/courier[.]txt" "the log names what was removed"

# drop folders configured in keep.conf, two at once, each its own collection
D2="$TAP_TMP/data2"
HR="$TAP_TMP/hr-drop"
FIN="$TAP_TMP/fin-drop"
mkdir -p "$HR" "$FIN"
"$KEEP" --data "$D2" folder add "$HR" --collection hr >/dev/null; tap_ok $? "keep folder add"
"$KEEP" --data "$D2" folder add "$FIN" --collection finance >/dev/null; tap_ok $? "a second drop folder"
"$KEEP" --data "$D2" folder add "$HR" --collection hr 2>/dev/null; tap_eq $? 1 "the same folder twice is refused"
"$KEEP" --data "$D2" folder add "$TAP_TMP/missing" 2>/dev/null; tap_eq $? 1 "a missing folder is refused"
tap_eq "$("$KEEP" --data "$D2" folder list --json | jq -c '[.folders[].collection]')" '["hr","finance"]' "keep folder list"
"$KEEP" --data "$D2" watch --settle-ms 200 >"$TAP_TMP/watch2.log" 2>&1 &
pid=$!
printf 'Parental leave requests go to the people team.\n' > "$HR/leave.txt"
printf 'Invoices above ten thousand euros need two signatures.\n' > "$FIN/invoices.txt"
D_SAVE=$D
D=$D2
wait_search "parental leave people team" "hr-drop/leave[.]txt$" found; tap_ok $? "a configured folder is watched"
wait_search "invoices two signatures" "fin-drop/invoices[.]txt$" found; tap_ok $? "so is the second one"
tap_eq "$("$KEEP" --data "$D2" search --json "invoices signatures" | jq -r '.results[0].collection')" "finance" "each feeds its own collection"
D=$D_SAVE
kill -TERM "$pid"
wait "$pid"
pid=
"$KEEP" --data "$D2" folder rm "$FIN" >/dev/null; tap_ok $? "keep folder rm"
tap_eq "$("$KEEP" --data "$D2" folder list --json | jq -c '[.folders[].path | sub(".*/"; "")]')" '["hr-drop"]' "only the other folder is left"
"$KEEP" --data "$D2" folder rm "$FIN" 2>/dev/null; tap_eq $? 1 "removing it again fails"
CONF_DROP="$TAP_TMP/conf-drop"
mkdir -p "$CONF_DROP"
printf '\n[folder]\npath = %s\ncollection = legal\n' "$CONF_DROP" >>"$D2/keep.conf"
tap_eq "$("$KEEP" --data "$D2" folder list --json | jq -c '[.folders[] | select(.source == "keep.conf") | .collection]')" '["legal"]' "keep.conf [folder] blocks are listed too"
"$KEEP" --data "$D2" folder rm "$CONF_DROP" 2>"$TAP_TMP/err"; tap_eq $? 1 "a keep.conf folder is not removed by the CLI"
tap_match "$(cat "$TAP_TMP/err")" "keep.conf" "the error says where it is declared"
"$KEEP" --data "$D2" watch --settle-ms 200 >"$TAP_TMP/watch3.log" 2>&1 &
pid=$!
printf 'Contracts above one million euros need the general counsel.\n' >"$CONF_DROP/contracts.txt"
D=$D2
wait_search "contracts general counsel" "conf-drop/contracts[.]txt$" found; tap_ok $? "a keep.conf folder is watched"
D=$D_SAVE
kill -TERM "$pid"
wait "$pid"
pid=

tap_done
