#!/bin/sh
# e2e_embed.sh — `keep model embed` against llama.cpp's embeddings of the
# tiny-bert fixtures (CLS pooling, L2-normalized), one run per weight type.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
F="$KEEP_FIXTURES"

# The prompt lines as positional arguments.
set --
while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] && set -- "$@" "$line"
done <"$F/prompts/bert.txt"
tap_eq "$#" 4 "four prompt lines"

for t in f32 f16 q8_0; do
    "$KEEP" model embed --json "$F/models/tiny-bert-$t.gguf" "$@" >"$TAP_TMP/got.json"
    tap_eq $? 0 "keep model embed tiny-bert-$t"
    tap_eq "$(jq -c '[.model, .dim, (.data | length), [.data[].index]]' "$TAP_TMP/got.json")" \
        '["tiny-bert-f32",128,4,[0,1,2,3]]' "$t: model, dim, one entry per text"
    # Vectors are unit length, so the dot product is the cosine.
    worst=$(jq -n --slurpfile a "$TAP_TMP/got.json" --slurpfile b "$F/ref/tiny-bert-$t.embeddings.json" '
        [range(0; $b[0].data | length) as $i
         | $a[0].data[$i].embedding as $x | $b[0].data[$i].embedding as $y
         | [range(0; $y | length) | $x[.] * $y[.]] | add] | min')
    tap_eq "$(jq -n "$worst >= 0.999")" true "$t: cosine with llama.cpp >= 0.999 for every line (worst $worst)"
    norm=$(jq '[.data[].embedding | map(. * .) | add] | map(. - 1 | fabs) | max < 1e-5' "$TAP_TMP/got.json")
    tap_eq "$norm" true "$t: unit vectors"
done

# Plain output: one line of 128 numbers per text.
out=$("$KEEP" model embed "$F/models/tiny-bert-q8_0.gguf" "one" "two")
tap_eq "$(printf '%s\n' "$out" | wc -l | tr -d ' ')" 2 "plain output: one line per text"
tap_eq "$(printf '%s\n' "$out" | head -1 | wc -w | tr -d ' ')" 128 "plain output: 128 numbers"

# A text over the 512-token context is truncated, with a warning.
long=$(yes backup | head -600 | tr '\n' ' ')
"$KEEP" model embed --json "$F/models/tiny-bert-f16.gguf" "$long" >"$TAP_TMP/long.json" 2>"$TAP_TMP/err"
tap_eq $? 0 "a 600-word text embeds"
tap_match "$(cat "$TAP_TMP/err")" "truncated to 512 tokens" "truncation is reported"

"$KEEP" model embed "$F/models/tiny-llama-q8_0.gguf" "x" 2>"$TAP_TMP/err"
tap_eq $? 1 "a decoder model fails (1)"
tap_eq "$(wc -l <"$TAP_TMP/err" | tr -d ' ')" 1 "with a one-line error"
"$KEEP" model embed "$F/models/tiny-bert-f16.gguf" 2>/dev/null
tap_eq $? 2 "no text is a usage error (2)"
tap_done
