#!/bin/sh
# e2e_decoder.sh — `keep model logits|generate|bench` end to end: the logits
# of a prompt against llama.cpp's reference (cosine, argmax, tokens), greedy
# generation against the reference's greedy tokens, and bench output.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
F="$KEEP_FIXTURES"

for m in tiny-llama-f16 tiny-qwen3-q8_0; do
    for p in p1 p3; do
        ref="$F/ref/$m.$p.json"
        "$KEEP" model logits --json -t 1 "$F/models/$m.gguf" "$(jq -r .prompt "$ref")" >"$TAP_TMP/l.json"
        tap_ok $? "keep model logits --json $m $p"
        tap_eq "$(jq -c .tokens "$TAP_TMP/l.json")" "$(jq -c .tokens "$ref")" "$m $p: tokens equal llama.cpp's"
        tap_eq "$(jq .n_vocab "$TAP_TMP/l.json")" "$(jq .n_vocab "$ref")" "$m $p: n_vocab"
        jq -r '.logits[]' "$TAP_TMP/l.json" >"$TAP_TMP/ours.txt"
        od -An -v -f -w4 "$F/ref/$m.$p.logits.f32" | tr -d ' ' >"$TAP_TMP/ref.txt"
        res=$(paste "$TAP_TMP/ours.txt" "$TAP_TMP/ref.txt" | awk '
            { ab += $1 * $2; aa += $1 * $1; bb += $2 * $2
              if (NR == 1 || $1 > ma) { ma = $1; ia = NR } if (NR == 1 || $2 > mb) { mb = $2; ib = NR } }
            END { c = ab / sqrt(aa * bb); printf "%s %d %d %d", (c >= 0.998 ? "ok" : "low"), NR, ia, ib }')
        set -- $res
        tap_eq "$1" ok "$m $p: logits cosine with llama.cpp's >= 0.998"
        tap_eq "$2" "$(jq .n_vocab "$ref")" "$m $p: every logit printed"
        tap_eq "$3" "$4" "$m $p: same argmax"
    done
done

# greedy text: the first 4 reference tokens (large margins in this fixture)
m=tiny-llama-f32
ref="$F/ref/$m.p2.json"
out=$("$KEEP" model generate -t 1 -n 4 --greedy "$F/models/$m.gguf" "$(jq -r .prompt "$ref")" 2>/dev/null)
tap_ok $? "keep model generate --greedy"
want=$(jq -r '.greedy_text_hex' "$ref")
got=$(printf '%s' "$out" | od -An -v -tx1 | tr -d ' \n')
case "$want" in "$got"*) tap_ok 0 "greedy text is a prefix of llama.cpp's" ;;
*) tap_ok 1 "greedy text is a prefix of llama.cpp's"; echo "#   got $got want $want" ;; esac
tap_ok $([ -n "$got" ]; echo $?) "some text generated"

out=$("$KEEP" model bench -p 32 -n 8 -t 1 "$F/models/tiny-qwen2-q4_k_m.gguf")
tap_match "$out" 'pp32 \| [0-9.]+ \|' "bench prints prompt tokens/s"
tap_match "$out" 'tg8 \| [0-9.]+ \|' "bench prints generation tokens/s"
"$KEEP" model logits "$F/models/tiny-bert-f32.gguf" "x" 2>"$TAP_TMP/err"; tap_eq $? 1 "logits on a bert file fails (1)"
tap_match "$(cat "$TAP_TMP/err")" 'architecture "bert" is not supported' "with a one-line reason"
"$KEEP" model generate "$F/models/tiny-llama-f32.gguf" "x" --temp abc 2>/dev/null; tap_eq $? 2 "bad option value is a usage error"
tap_done
