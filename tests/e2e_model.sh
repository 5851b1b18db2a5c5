#!/bin/sh
# e2e_model.sh — `keep model` against llama.cpp's references in the fixtures.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
F="$KEEP_FIXTURES"

for m in tiny-llama-f32 tiny-qwen2-q8_0 tiny-llama3-q8_0; do
    for p in p1 p3; do
        want=$(jq -c '.tokens' "$F/ref/$m.$p.json")
        got=$("$KEEP" model tokenize --json "$F/models/$m.gguf" "$(cat "$F/prompts/$p.txt")" | jq -c '.ids')
        tap_eq "$got" "$want" "keep model tokenize $m $p equals llama.cpp"
    done
done
got=$("$KEEP" model tokenize --json --no-bos "$F/models/tiny-llama-f32.gguf" "Hello" | jq -c '.ids[0]')
tap_ok $([ "$got" != "1" ]; echo $?) "--no-bos adds no BOS"
got=$("$KEEP" model tokenize --json --special "$F/models/tiny-qwen2-q8_0.gguf" "<|im_start|>user" | jq -r '.pieces[0]')
tap_eq "$got" "<|im_start|>" "--special parses special tokens"
got=$("$KEEP" model tokenize --json "$F/models/tiny-qwen2-q8_0.gguf" "<|im_start|>user" | jq -r '.pieces | length > 1')
tap_eq "$got" "true" "special tokens not parsed by default"
info=$("$KEEP" model info --json "$F/models/tiny-qwen2-q4_k_m.gguf")
printf '%s' "$info" | jq -e . >/dev/null; tap_ok $? "model info --json is JSON"
tap_match "$info" '"qwen2"' "model info names the architecture"
"$KEEP" model info /etc/passwd 2>"$TAP_TMP/err"; tap_eq $? 1 "a non-GGUF file fails (1)"
tap_eq "$(wc -l <"$TAP_TMP/err" | tr -d ' ')" 1 "with a one-line error"
head -c 5000 "$F/models/tiny-llama-f32.gguf" > "$TAP_TMP/trunc.gguf"
"$KEEP" model info "$TAP_TMP/trunc.gguf" 2>/dev/null; tap_eq $? 1 "a truncated GGUF fails cleanly"
# a GGUF embedding model from keep.conf replaces the built-in embedder
D="$TAP_TMP/data"
mkdir -p "$D" "$TAP_TMP/docs"
printf '# Fleet\n\nThe fleet has forty refrigerated trailers.\n' >"$TAP_TMP/docs/fleet.md"
printf '# Canteen\n\nThe canteen serves soup on Fridays.\n' >"$TAP_TMP/docs/canteen.md"
printf '[search]\nembedding_model = %s\n' "$F/models/tiny-bert-f32.gguf" >"$D/keep.conf"
out=$("$KEEP" --data "$D" ingest --json "$TAP_TMP/docs"); tap_ok $? "ingest with embedding_model set"
tap_eq "$(printf '%s' "$out" | jq '.embedded')" "2" "both chunks embedded by the model"
tap_match "$(sqlite3 "$D/keep.db" "SELECT embedder FROM vec_meta")" "^gguf:" "vectors are named after the GGUF model"
"$KEEP" --data "$D" search --json --mode vector "refrigerated trailers" >"$TAP_TMP/v.json"; tap_ok $? "vector search with the model"
tap_eq "$(jq '.results | length' "$TAP_TMP/v.json")" "2" "both documents ranked by the model's vectors"
printf '[search]\n' >"$D/keep.conf"
out=$("$KEEP" --data "$D" ingest --json "$TAP_TMP/docs")
tap_eq "$(printf '%s' "$out" | jq '.embedded')" "2" "back to the built-in embedder: every chunk re-embedded, nothing re-parsed"
tap_eq "$(printf '%s' "$out" | jq '.unchanged')" "2" "no document parsed again"
printf '[search]\nembedding_model = /nonexistent/model.gguf\n' >"$D/keep.conf"
"$KEEP" --data "$D" ingest "$TAP_TMP/docs" >/dev/null 2>"$TAP_TMP/err"; tap_eq $? 1 "a missing embedding model fails the embedding step"
tap_done
