#!/bin/sh
# bench/embed.sh — Keep's embedding speed beside llama.cpp's on the same files.
#
#   bench/embed.sh [N] [TOKENS]        (from the top of a built tree)
#
# Writes bge-small-shaped models (F16, Q8_0) into bench/models/ (ignored by
# git) with the project's GGUF writer, then for 1 and 2 threads times Keep
# (bench/embed: N passages of about TOKENS tokens, one batched call) and
# llama.cpp (../shared/tools/llamacpp-bench.mjs through node-llama-cpp, one
# passage at a time as its embedding context works) on the same passages.
# node-llama-cpp is looked for in $NODE_PATH, else bench/node_modules (install
# it with `npm install --prefix bench node-llama-cpp@3.22.1`). Prints a
# Markdown table.
set -e
N=${1:-256}
TOK=${2:-60}
TOOLS=${KEEP_TOOLS:-$(dirname "$0")/../../shared/tools}
export KEEP_FIXTURES=${KEEP_FIXTURES:-$(dirname "$0")/../../shared/fixtures}
export NODE_PATH=${NODE_PATH:-$(pwd)/bench/node_modules}
mkdir -p bench/models
bench/embed write bench/models

num() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
echo "| model | type | threads | Keep emb/s | Keep tok/s | llama.cpp emb/s | Keep / llama.cpp |"
echo "|---|---|---|---|---|---|---|"
for t in f16 q8_0; do
    m=bench/models/bge-small-$t.gguf
    for th in 1 2; do
        k=$(bench/embed run "$m" "$th" "$N" "$TOK")
        ke=$(echo "$k" | num embeddings_per_s)
        kt=$(echo "$k" | num tokens_per_s)
        l=$(node "$TOOLS/llamacpp-bench.mjs" embed "$m" "$th" "$N" "$TOK" 2>/dev/null || true)
        le=$(echo "$l" | num embeddings_per_s)
        r=$(awk -v a="$ke" -v b="$le" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
        echo "| bge-small shape | $t | $th | $ke | $kt | ${le:--} | $r |"
    done
done
