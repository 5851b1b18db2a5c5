#!/bin/sh
# bench/http/run.sh — Keep's HTTP server under load: wrk against
# POST /api/v1/search over a synthetic corpus of CHUNKS chunks (bench/search_bench's
# generator, --data-only), then ASKS concurrent streamed asks against a tiny
# fixture model, counting answered / queued / failed. Prints Markdown tables.
#
# Run from the top of the build tree after `make keep bench/search_bench`;
# needs wrk, curl and jq (Debian: apt-get install -y wrk curl jq).
# Environment (defaults): CHUNKS (100000), DATA (/tmp/keep-http-bench/data; built
# when it holds no keep.db; takes minutes), DURATION (30s), CONNS (16),
# WRK_THREADS (2), WEB_THREADS (4, keep.conf [web] threads), ASKS (20),
# MODEL ($KEEP_FIXTURES/models/tiny-qwen2-q8_0.gguf; "none": extractive asks),
# SEQUENCES (1), MODE (search mode: default hybrid; bm25, vector).
set -eu
KEEP=${KEEP:-./keep}
BENCH=${BENCH:-./bench/search_bench}
SRC=$(cd "$(dirname "$0")" && pwd)
CHUNKS=${CHUNKS:-100000}
DATA=${DATA:-/tmp/keep-http-bench/data}
DURATION=${DURATION:-30s}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
WEB_THREADS=${WEB_THREADS:-4}
ASKS=${ASKS:-20}
SEQUENCES=${SEQUENCES:-1}
FIX=${KEEP_FIXTURES:-$SRC/../../../shared/fixtures}
MODEL=${MODEL:-$FIX/models/tiny-qwen2-q8_0.gguf}
MODE=${MODE:-}
for t in wrk curl jq; do
    command -v $t >/dev/null || { echo "run.sh: $t is needed (apt-get install -y $t)" >&2; exit 2; }
done
[ -x "$KEEP" ] || { echo "run.sh: no $KEEP: run from the build tree after make" >&2; exit 2; }

if [ ! -f "$DATA/keep.db" ]; then
    [ -x "$BENCH" ] || { echo "run.sh: make bench/search_bench first" >&2; exit 2; }
    echo "building $CHUNKS chunks in $DATA ..." >&2
    "$BENCH" "$CHUNKS" "$DATA" --data-only >&2
fi
[ -f "$DATA/queries.txt" ] || "$BENCH" --queries "$DATA/queries.txt"

{
    printf '[web]\nthreads = %s\ntimeout_s = 30\n' "$WEB_THREADS"
    if [ "$MODEL" != none ]; then
        printf '[answer]\nmodel = %s\nmax_tokens = 64\nsequences = %s\nthreads = 1\ntimeout_s = 120\n' \
            "$MODEL" "$SEQUENCES"
    fi
} > "$DATA/keep.conf"
"$KEEP" --data "$DATA" user add benchuser --admin >/dev/null 2>&1 || true
TOKEN=$("$KEEP" --data "$DATA" user token benchuser "bench-$$")

TMP=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TMP"' EXIT
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
MODEJSON=
[ -n "$MODE" ] && MODEJSON=",\"mode\":\"$MODE\""
# one search first: the vector index is loaded on first use
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"query\":\"$(head -n 1 "$DATA/queries.txt")\"$MODEJSON}" "$B/api/v1/search"
HITS=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"query\":\"$(head -n 1 "$DATA/queries.txt")\"$MODEJSON}" "$B/api/v1/search" | jq '.results | length')

# ---- wrk: searches ------------------------------------------------------------------------------
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # server CPU time, clock ticks
TICK=$(getconf CLK_TCK)
C0=$(cpu)
if [ -n "$MODE" ]; then
    sed "s/'}'/',\"mode\":\"$MODE\"}'/" "$SRC/search.lua" > "$TMP/search.lua"
else
    cp "$SRC/search.lua" "$TMP/search.lua"
fi
KEEP_TOKEN=$TOKEN KEEP_QUERIES=$DATA/queries.txt \
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$TMP/search.lua" "$B" > "$TMP/wrk" 2>&1
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
C1=$(cpu)
cat "$TMP/wrk" >&2
ms() { # wrk's latency (us/ms/s) in ms
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.1f", n }'
}
RPS=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk")
P50=$(ms "$(awk '$1 == "50%" {print $2}' "$TMP/wrk")")
P99=$(ms "$(awk '$1 == "99%" {print $2}' "$TMP/wrk")")
REQS=$(awk '/requests in/ {print $1}' "$TMP/wrk")
NON2XX=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk")
ERRS=$(awk '/Socket errors/ {print $0}' "$TMP/wrk" | sed 's/^ *Socket errors: //')
RSS=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
# the server's CPU per request: what the machine's load does not change much;
# 2000 / it is the requests/s two idle cores could serve
CPUMS=$(awk -v a="$C0" -v b="$C1" -v t="$TICK" -v n="$REQS" 'BEGIN { printf "%.2f", (b - a) * 1000 / t / n }')

echo
echo "| chunks | mode | server threads | wrk threads x conns | duration | requests | requests/s | p50 ms | p99 ms | non-2xx | socket errors | server CPU ms/request | server RSS MB | load before / after |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
echo "| $CHUNKS | ${MODE:-hybrid} | $WEB_THREADS | $WRK_THREADS x $CONNS | $DURATION | $REQS | $RPS | $P50 | $P99 | ${NON2XX:-0} | ${ERRS:-0} | $CPUMS | $((RSS / 1024)) | $LOAD0 / $LOAD1 |"
echo "(first query: $HITS results)"

# ---- concurrent asks ------------------------------------------------------------------------------
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s%N)
pids=
n=1
while [ $n -le "$ASKS" ]; do
    q=$(sed -n "${n}p" "$DATA/queries.txt")
    curl -s -N -m 300 -o "$TMP/ask$n" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' -d "{\"question\":\"$q\",\"stream\":true}" \
        "$B/api/v1/ask" > "$TMP/ask$n.code" 2>/dev/null &
    pids="$pids $!"
    n=$((n + 1))
done
for p in $pids; do wait "$p" || true; done
t1=$(date +%s%N)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
answered=0 queued=0 failed=0 maxs=0
n=1
while [ $n -le "$ASKS" ]; do
    code=$(cut -d' ' -f1 "$TMP/ask$n.code")
    secs=$(cut -d' ' -f2 "$TMP/ask$n.code")
    if [ "$code" = 200 ] && grep -q '^event: done' "$TMP/ask$n"; then
        answered=$((answered + 1))
    else
        failed=$((failed + 1))
    fi
    if sed -n '/^event: queue/{n;s/^data: //p}' "$TMP/ask$n" | jq -r .position 2>/dev/null |
        awk '$1 > 0 { f = 1 } END { exit !f }'; then
        queued=$((queued + 1))
    fi
    maxs=$(awk -v a="$maxs" -v b="$secs" 'BEGIN { print (b > a ? b : a) }')
    n=$((n + 1))
done
MODELNAME=$( [ "$MODEL" = none ] && echo "extractive" || basename "$MODEL")
echo
echo "| concurrent asks | answer | sequences | answered (done event) | told a queue place > 0 | failed | slowest s | wall s | load before / after |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| $ASKS | $MODELNAME | $SEQUENCES | $answered | $queued | $failed | $maxs | $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') | $LOAD0 / $LOAD1 |"
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
