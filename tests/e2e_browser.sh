#!/bin/sh
# e2e_browser.sh — the web UI end to end in real headless Chromium: Debian's
# chromium driven by playwright-core (pinned in tests/browser/package.json,
# installed with `npm ci` there; ./quickstart test does both). This script
# prepares a data dir with samples/ (finance in its own collection, which a
# second user may not read), starts `keep serve` twice (extractive answers,
# and the tiny fixture model so that an answer really streams token by
# token), then runs tests/browser/e2e.mjs, whose "ok - ..." lines are
# numbered here. Screenshots go to $KEEP_ARTIFACTS (default
# test-artifacts/browser/ in the build dir, i.e. build/test-artifacts/browser/
# for ./quickstart test).
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"
G="$TAP_TMP/gen"
pid=
gpid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$gpid" ] && kill "$gpid" 2>/dev/null; rm -rf "$TAP_TMP"' EXIT

# Chromium driving an ASan+UBSan keep takes minutes on 2 cores and finds
# nothing the API tests under ASan do not: the browser test runs only in the
# normal build (./quickstart test runs make check in both).
case "${KEEP_SAN:-}" in
*-fsanitize=*)
    echo "ok 1 # SKIP headless Chromium runs only in the build without sanitizers"
    echo "1..1"
    exit 0
    ;;
esac

# Missing tools are a failure, not a skip: ./quickstart test installs them.
CHROMIUM=${KEEP_CHROMIUM:-/usr/bin/chromium}
BROWSER_DIR="$KEEP_SRCDIR/tests/browser"
missing=
[ -x "$CHROMIUM" ] || missing="$missing chromium ($CHROMIUM; apt-get install chromium)"
command -v node >/dev/null 2>&1 || missing="$missing node (apt-get install nodejs npm)"
[ -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] ||
    missing="$missing playwright-core (cd tests/browser && npm ci)"
if [ -n "$missing" ]; then
    tap_ok 1 "headless browser tools present; missing:$missing"
    tap_done
    exit 1
fi
tap_ok 0 "chromium, node $(node --version) and playwright-core are present"

ART=${KEEP_ARTIFACTS:-$(pwd)/test-artifacts/browser}
mkdir -p "$ART" && rm -f "$ART"/*.png

# ---- data: samples/ without finance in "docs", finance alone in "finance" ----------------------------
S="$TAP_TMP/samples"
mkdir -p "$D" "$S"
cp -r "$KEEP_SRCDIR/samples/." "$S/" && rm -rf "$S/src" "$S/README.md"
mv "$S/finance" "$TAP_TMP/finance"
"$KEEP" --data "$D" ingest --collection docs "$S" >/dev/null 2>&1 &&
    "$KEEP" --data "$D" ingest --collection finance "$TAP_TMP/finance" >/dev/null 2>&1
tap_ok $? "ingest samples/ (docs) and samples/finance (finance)"
"$KEEP" --data "$D" user add carla staff
"$KEEP" --data "$D" user add gus visitors
"$KEEP" --data "$D" collection grant docs staff
"$KEEP" --data "$D" collection grant finance staff
"$KEEP" --data "$D" collection grant docs visitors
echo 'carla-secret-pw' | "$KEEP" --data "$D" user passwd carla
echo 'gus-secret-pw1' | "$KEEP" --data "$D" user passwd gus
tap_eq "$("$KEEP" --data "$D" search --as gus --json 'Quarterly Business Review revenue' | jq '[.results[] | select(.collection == "finance")] | length')" \
    0 "gus (visitors) cannot read the finance collection"
# the same store behind a server that generates with the tiny fixture model
cp -r "$D" "$G"
cat > "$D/keep.conf" <<'EOF'
[web]
threads = 4
timeout_s = 20
EOF
cat > "$G/keep.conf" <<EOF
[web]
threads = 4
timeout_s = 20
[answer]
model = $KEEP_FIXTURES/models/tiny-qwen2-q8_0.gguf
max_tokens = 48
sequences = 1
timeout_s = 60
EOF

tap_serve "$D" /dev/null "$TAP_TMP/err"
pid=$SRV_PID
URL=$SRV_URL
tap_serve "$G" /dev/null "$TAP_TMP/gerr"
gpid=$SRV_PID
GEN_URL=$SRV_URL
tap_match "$URL $GEN_URL" '^http://127.0.0.1:[0-9]+ http://127.0.0.1:[0-9]+$' "both servers listen"

# ---- the browser run ---------------------------------------------------------------------------------
KEEP_URL="$URL" KEEP_GEN_URL="$GEN_URL" KEEP_CHROMIUM="$CHROMIUM" KEEP_ARTIFACTS="$ART" \
    KEEP_USER=carla KEEP_PASSWORD=carla-secret-pw KEEP_GUEST=gus KEEP_GUEST_PASSWORD=gus-secret-pw1 \
    timeout 120 node "$BROWSER_DIR/e2e.mjs" > "$TAP_TMP/browser.out" 2>&1
rc=$?
while IFS= read -r line; do
    case "$line" in
    "ok - "*) tap_ok 0 "${line#ok - }" ;;
    "not ok - "*) tap_ok 1 "${line#not ok - }" ;;
    *) echo "# $line" ;;
    esac
done < "$TAP_TMP/browser.out"
tap_eq "$rc" 0 "the browser run ends cleanly (node exit status)"
n=$(ls "$ART"/*.png 2>/dev/null | wc -l)
tap_ok $([ "$n" -ge 5 ]; echo $?) "screenshots saved in $ART ($n)"
if grep -q 'AddressSanitizer\|runtime error' "$TAP_TMP/err" "$TAP_TMP/gerr"; then tap_ok 1 "the servers report no error"
else tap_ok 0 "the servers report no error"; fi
kill "$pid" "$gpid" 2>/dev/null
wait "$pid" 2>/dev/null
r1=$?
wait "$gpid" 2>/dev/null
r2=$?
pid= gpid=
tap_eq "$r1 $r2" "0 0" "both servers stop cleanly on SIGTERM"
tap_done
