#!/bin/sh
# run.sh — time to first token and total time of `keep ask --json` with a
# generative model (issue 8, "Measured"): a Qwen2.5-0.5B-shaped Q8_0 model
# with random weights (speed does not depend on the values) written by
# bench/infer/mkmodel with the project's GGUF writer, samples/ ingested (8
# passages under the default 1,500-token budget), 2 decoder threads.
#
#   bench/answer/run.sh [MAX_TOKENS]          (default 64 generated tokens)
#
# BENCH_BUDGET=N sets [answer] context_tokens (the passages' token budget,
# default 1500) to see how first token time follows the prompt's size.
#
# Each question is one `keep ask` process, as from the command line: the
# model is mapped and the system prompt computed afresh each time (keep serve
# keeps both; its cached_tokens show the difference). Prints a Markdown table:
# retrieval, prefill (prompt evaluation, system prompt included when not
# cached), decode, first token, total, tokens, tokens/s and the shares of
# retrieval / prefill / decode, against the target first token < 3 s.
# Needs a built tree (make; make bench/infer/mkmodel) and jq.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
KEEP=${KEEP_BIN:-$TOP/keep}
F=${KEEP_FIXTURES:-$TOP/../shared/fixtures}
MK=${MKMODEL:-$TOP/bench/infer/mkmodel}
# the same file bench/infer/run.sh writes (ignored by git)
MODEL=${BENCH_MODEL:-$TOP/bench/infer/models/qwen2-0.5b-q8_0.gguf}
THREADS=${BENCH_THREADS:-2}
BUDGET=${BENCH_BUDGET:-1500}
NGEN=${1:-64}

if [ ! -s "$MODEL" ]; then
    mkdir -p "$(dirname "$MODEL")"
    "$MK" qwen2-0.5b q8_0 "$F/vocab/ggml-vocab-qwen2.gguf" "$MODEL" || exit 1
fi
D=$(mktemp -d /tmp/keep-bench-answer-XXXXXX)
trap 'rm -rf "$D"' EXIT INT TERM
mkdir -p "$D/samples"
cp -r "$TOP/samples/." "$D/samples" && rm -rf "$D/samples/src"
"$KEEP" --data "$D/data" ingest "$D/samples" >/dev/null 2>&1 || { echo "ingest failed" >&2; exit 1; }
cat >>"$D/data/keep.conf" <<CONF

[answer]
model = $MODEL
threads = $THREADS
max_tokens = $NGEN
context_tokens = $BUDGET
timeout_s = 0
CONF

echo "load: $(uptime | sed 's/.*load average: //')  model: $(basename "$MODEL")  threads: $THREADS  passage budget: $BUDGET tokens  max tokens: $NGEN"
echo
echo "| question | retrieval ms | prefill ms | decode ms | first token ms | total ms | prompt tok | cached tok | generated tok | decode tok/s | shares r/p/d % | first token < 3 s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
n=0
while IFS= read -r q; do
    [ -n "$q" ] || continue
    out=$("$KEEP" --data "$D/data" ask --json "$q" 2>"$D/err") || { echo "| $q | failed: $(head -1 "$D/err") |"; continue; }
    printf '%s' "$out" | jq -r --arg q "$q" '
      .timings as $t
      | ($t.retrieve_ms + $t.prefill_ms + $t.decode_ms) as $sum
      | def r: . * 10 | round / 10;
        def pc(x): if $sum > 0 then (x * 100 / $sum | round) else 0 end;
      "| \($q) | \($t.retrieve_ms | r) | \($t.prefill_ms | r) | \($t.decode_ms | r) | \(($t.first_token_ms // 0) | r) | \($t.total_ms | r) | \($t.prompt_tokens) | \($t.cached_tokens) | \($t.generated_tokens) | \($t.tokens_per_s | r) | \(pc($t.retrieve_ms))/\(pc($t.prefill_ms))/\(pc($t.decode_ms)) | \(if .refused and $t.generated_tokens == 0 then "refused" elif ($t.first_token_ms // 1e9) < 3000 then "yes" else "no" end) |"'
    n=$((n + 1))
done <<QUESTIONS
What percentage is added to road freight prices to cover fuel?
How many scanners were planned for the cold store hall?
What were the revenues in the third quarter of 2026?
How long must a staff password be at minimum?
For how long are the weekly full backups retained?
QUESTIONS
echo
echo "load after: $(uptime | sed 's/.*load average: //')"
