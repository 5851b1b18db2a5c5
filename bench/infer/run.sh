#!/bin/sh
# run.sh — Keep's decoder speed beside llama.cpp's on the same files, same run.
#
#   bench/infer/run.sh [PROMPT_TOKENS [GEN_TOKENS]]      (defaults 512 128)
#
# Writes random-weight models of real shapes with bench/infer/mkmodel (once,
# into bench/infer/models/, ignored by git): Qwen2.5-0.5B and Llama-3.2-1B,
# each Q8_0 and Q4_K_M. For each file, at 1 and 2 threads, runs
# `keep model bench --json` and ../shared/tools/llamacpp-bench.mjs (llama.cpp
# through node-llama-cpp, installed once into bench/infer/node/), then the
# busy-box case: one core kept busy by a spinning process, 1 and 2 threads.
# Prints a Markdown table with tokens/s, Keep's peak RSS and the ratio
# Keep / llama.cpp. Needs a built tree (make; make bench/infer/mkmodel).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
KEEP=${KEEP_BIN:-$TOP/keep}
F=${KEEP_FIXTURES:-$TOP/../shared/fixtures}
TOOL=${LLAMACPP_BENCH:-$F/../tools/llamacpp-bench.mjs}
MK=${MKMODEL:-$TOP/bench/infer/mkmodel}
MODELS=$HERE/models
NODE=${NODE_DIR:-$HERE/node}
PP=${1:-512}
TG=${2:-128}

mkdir -p "$MODELS"
for spec in "qwen2-0.5b q8_0 qwen2" "qwen2-0.5b q4_k_m qwen2" "llama-3.2-1b q8_0 llama-bpe" \
    "llama-3.2-1b q4_k_m llama-bpe"; do
    set -- $spec
    out="$MODELS/$1-$2.gguf"
    [ -s "$out" ] || "$MK" "$1" "$2" "$F/vocab/ggml-vocab-$3.gguf" "$out" || exit 1
done
if [ ! -d "$NODE/node_modules/node-llama-cpp" ]; then
    npm install --prefix "$NODE" node-llama-cpp@3.22.1 >/dev/null 2>&1 || echo "# npm install failed: no llama.cpp figures" >&2
fi

# llama.cpp: prints "prompt_tps gen_tps" or "- -"
llama() {
    NODE_PATH="$NODE/node_modules" node "$TOOL" gen "$1" "$2" "$PP" "$TG" 2>/dev/null |
        jq -r '"\(.prompt_tps) \(.gen_tps)"' 2>/dev/null || echo "- -"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

row() { # row MODEL THREADS LABEL
    # read the file once so neither tool's first figure includes disk reads
    cat "$1" >/dev/null
    k=$("$KEEP" model bench --json -p "$PP" -n "$TG" -t "$2" "$1" |
        jq -r '"\(.prompt_tps * 100 | round / 100) \(.gen_tps * 100 | round / 100) \(.peak_rss_mib | round)"')
    set -- "$1" "$2" "$3" $k
    l=$(llama "$1" "$2")
    set -- "$@" $l
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(basename "$1" .gguf)" "$2" "$3" \
        "$4" "$7" "$(ratio "$4" "$7")" "$5" "$8" "$(ratio "$5" "$8")" "$6"
}

echo "| model | threads | load | Keep pp$PP t/s | llama.cpp pp$PP t/s | ratio | Keep tg$TG t/s | llama.cpp tg$TG t/s | ratio | Keep peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for m in "$MODELS"/qwen2-0.5b-q8_0.gguf "$MODELS"/qwen2-0.5b-q4_k_m.gguf "$MODELS"/llama-3.2-1b-q8_0.gguf \
    "$MODELS"/llama-3.2-1b-q4_k_m.gguf; do
    for t in 1 2; do row "$m" "$t" "-"; done
done
# one core taken by another process
sh -c 'while :; do :; done' &
SPIN=$!
trap 'kill $SPIN 2>/dev/null' EXIT INT TERM
for m in "$MODELS"/qwen2-0.5b-q8_0.gguf "$MODELS"/llama-3.2-1b-q4_k_m.gguf; do
    for t in 1 2; do row "$m" "$t" "1 core busy"; done
done
kill $SPIN 2>/dev/null
