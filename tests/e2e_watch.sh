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
"$KEEP" --data "$D" watch 2>/dev/null; tap_eq $? 2 "watch without a folder is a usage error"
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

tap_done
