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
tap_done
