#!/bin/sh
# bench/http/soak.sh — Keep's server under long use: ASKS asks (extractive:
# no model configured; half plain JSON, half streamed) and SEARCHES searches
# against one `keep serve`, in rounds of a hundred requests (one curl process
# per hundred, reusing its connection). After every hundred it samples the
# server's memory (/proc/PID/status: VmRSS, and RssAnon, which leaves out the
# mapped database file) and that hundred's latencies; it prints the first and
# the last hundred of each kind side by side, and keeps every row in
# $OUT (soak.tsv).
#
# Run from the top of the build tree after `make keep`; needs curl and jq.
# Environment (defaults): SEARCHES (20000), ASKS (1000), DATA (a new data dir
# with samples/ ingested), OUT (./soak.tsv), WEB_THREADS (4).
set -eu
KEEP=${KEEP:-./keep}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SEARCHES=${SEARCHES:-20000}
ASKS=${ASKS:-1000}
OUT=${OUT:-./soak.tsv}
WEB_THREADS=${WEB_THREADS:-4}
for t in curl jq; do
    command -v $t >/dev/null || { echo "soak.sh: $t is needed (apt-get install -y $t)" >&2; exit 2; }
done
TMP=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TMP"' EXIT
if [ -z "${DATA:-}" ]; then
    DATA=$TMP/data
    mkdir -p "$DATA"
    for c in "$SRC"/samples/*/; do
        "$KEEP" --data "$DATA" ingest --collection "$(basename "$c")" "$c" >/dev/null 2>&1
    done
fi
printf '[web]\nthreads = %s\ntimeout_s = 30\n' "$WEB_THREADS" > "$DATA/keep.conf"
"$KEEP" --data "$DATA" user add soakuser --admin >/dev/null 2>&1 || true
TOKEN=$("$KEEP" --data "$DATA" user token soakuser "soak-$$")
"$KEEP" --data "$DATA" serve --listen 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err" &
pid=$!
PORT=
i=0
while [ $i -lt 600 ] && [ -z "$PORT" ]; do
    PORT=$(sed -n 's/^keep: serving on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/err")
    [ -z "$PORT" ] && sleep 0.1
    i=$((i + 1))
done
[ -n "$PORT" ] || { cat "$TMP/err" >&2; exit 1; }
B="http://127.0.0.1:$PORT"

# queries and questions over the samples, used in turn
cat > "$TMP/words" <<'W'
fuel surcharge road freight
staff password minimum length
travel expenses reimbursement
holiday leave request
invoice payment terms
data protection personal data
security incident report
quarterly budget forecast
backup retention policy
remote work equipment
W
cat > "$TMP/questions" <<'W'
What percentage is added to road freight prices to cover fuel?
How long must a staff password be at minimum?
How are travel expenses reimbursed?
How many days of holiday leave do staff get?
What are the payment terms of invoices?
W
nw=$(wc -l < "$TMP/words")
nq=$(wc -l < "$TMP/questions")

# hundred KIND ROUND: a curl config of a hundred requests into $TMP/cfg
hundred() {
    : > "$TMP/cfg"
    j=0
    while [ $j -lt 100 ]; do
        n=$(( ($2 * 100 + j) ))
        if [ "$1" = search ]; then
            q=$(sed -n "$(( n % nw + 1 ))p" "$TMP/words")
            body="{\\\"query\\\":\\\"$q\\\",\\\"k\\\":$(( n % 10 + 1 ))}"
            url="$B/api/v1/search"
        else
            q=$(sed -n "$(( n % nq + 1 ))p" "$TMP/questions")
            st=false
            [ $((n % 2)) = 1 ] && st=true
            body="{\\\"question\\\":\\\"$q\\\",\\\"stream\\\":$st}"
            url="$B/api/v1/ask"
        fi
        printf 'url = "%s"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{time_total}\\n"\n' \
            "$url" "$TOKEN" "$body" >> "$TMP/cfg"
        j=$((j + 1))
        if [ $j -lt 100 ]; then echo next >> "$TMP/cfg"; fi
    done
}
mem() { awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} END {printf "%d\t%d", r / 1024, a / 1024}' "/proc/$pid/status"; }

printf 'kind\tround\tok\tfailed\tmean_ms\tp99_ms\trss_mb\tanon_mb\n' > "$OUT"
# run KIND ROUND: one hundred, one row
run() {
    hundred "$1" "$2"
    curl -s -K "$TMP/cfg" > "$TMP/lat" 2>/dev/null || true
    awk -v kind="$1" -v round="$2" -v mem="$(mem)" '
        { n++; if ($1 == 200) ok++; else bad++; t[n] = $2 * 1000; s += $2 * 1000 }
        END {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
            p = int(n * 0.99); if (p < 1) p = 1
            printf "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%s\n", kind, round, ok, bad + (100 - n), s / (n ? n : 1), t[p], mem
        }' "$TMP/lat" >> "$OUT"
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
sr=$((SEARCHES / 100))
ar=$((ASKS / 100))
every=$(( sr / (ar > 0 ? ar : 1) ))
[ "$every" -lt 1 ] && every=1
r=0 a=0
while [ $r -lt $sr ] || [ $a -lt $ar ]; do
    if [ $r -lt $sr ]; then run search $r; r=$((r + 1)); fi
    if [ $a -lt $ar ] && { [ $((r % every)) = 0 ] || [ $r -ge $sr ]; }; then run ask $a; a=$((a + 1)); fi
done
t1=$(date +%s)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=

row() { awk -F'\t' -v k="$1" -v w="$2" '$1 == k { if (!f) f = $0; l = $0 } END { print (w == "first" ? f : l) }' "$OUT"; }
fails=$(awk -F'\t' 'NR > 1 { s += $4 } END { print s + 0 }' "$OUT")
echo "| requests | hundred | mean ms | p99 ms | server VmRSS MB | RssAnon MB |"
echo "|---|---|---|---|---|---|"
for k in search ask; do
    for w in first last; do
        row "$k" "$w" | awk -F'\t' -v w="$w" '{ printf "| %s | %s (round %d) | %s | %s | %s | %s |\n", $1, w, $2 + 1, $5, $6, $7, $8 }'
    done
done
echo
echo "$SEARCHES searches, $ASKS asks (extractive; half streamed), $fails failed, $((t1 - t0)) s; load $LOAD0 before, $LOAD1 after"
