#!/bin/sh
# e2e_ask.sh — `keep ask` end to end on the sample corpus: the documented
# JSON shape of an extractive answer, the text output's label and sources, a
# refusal, usage errors, --as, and a generative answer on a tiny fixture model
# (its text is noise: only the shape is asserted).
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"
S="$TAP_TMP/samples"
cp -r "$KEEP_SRCDIR/samples" "$S" && rm -rf "$S/src"
"$KEEP" --data "$D" ingest "$S" >/dev/null 2>&1; tap_ok $? "ingest samples"

out=$("$KEEP" --data "$D" ask --json "What percentage is added to road freight prices to cover fuel?")
tap_ok $? "ask --json exits 0"
tap_eq "$(printf '%s' "$out" | jq -r '[has("question","answer","refused","mode","model","citations","sentences","timings")] | all')" \
    "true" "JSON has question, answer, refused, mode, model, citations, sentences, timings"
tap_eq "$(printf '%s' "$out" | jq -r '.mode, .refused, .model')" "extractive
false
null" "extractive, not refused, no model"
tap_match "$(printf '%s' "$out" | jq -r '.answer')" '13\.5 % \[[0-9]+\]' "the answer holds the fact with its [n]"
tap_eq "$(printf '%s' "$out" | jq -r '.citations[0] | [has("n","doc_id","path","title","collection","location","quote","start","end")] | all')" \
    "true" "a citation has n, doc_id, path, title, collection, location, quote, start, end"
tap_eq "$(printf '%s' "$out" | jq -r '.citations[0].location | [has("page","slide","sheet","heading")] | all')" \
    "true" "its location has page, slide, sheet, heading"
tap_match "$(printf '%s' "$out" | jq -r '.citations[] | "\(.path) \(.location.sheet)"')" 'price-list-2027\.xlsx Surcharges' \
    "the price list's Surcharges sheet is cited"
tap_eq "$(printf '%s' "$out" | jq -r '[.sentences[] | (.cites | length > 0) and .supported] | all')" "true" \
    "every sentence cites a source and is supported"
tap_eq "$(printf '%s' "$out" | jq -r '.timings | [has("retrieve_ms","first_token_ms","total_ms","prompt_tokens","generated_tokens","tokens_per_s")] | all')" \
    "true" "timings: retrieve_ms, first_token_ms, total_ms, prompt_tokens, generated_tokens, tokens_per_s"
n=$(printf '%s' "$out" | jq -r '.sentences[0].cites[0]')
tap_eq "$(printf '%s' "$out" | jq -r --argjson n "$n" '[.citations[].n] | index($n) != null')" "true" \
    "a sentence's [n] is in the citations"

out=$("$KEEP" --data "$D" ask --json "Who won the football tournament at the summer party?")
tap_ok $? "an unanswerable question exits 0"
tap_eq "$(printf '%s' "$out" | jq -r '.refused, (.citations | length), (.sentences | length)')" "true
0
0" "refused, no citations, no sentences"
tap_match "$(printf '%s' "$out" | jq -r '.answer')" 'found nothing in the documents you can access' \
    "the refusal says so plainly"

txt=$("$KEEP" --data "$D" ask "How long must a staff password be at minimum?")
tap_match "$txt" '^Extracted from your documents' "text output is labelled as extracted"
tap_match "$txt" '14 characters' "text output holds the answer"
tap_match "$txt" 'Sources:' "and its sources"
tap_match "$txt" 'password-policy\.md' "naming the document"

"$KEEP" --data "$D" ask >/dev/null 2>&1; tap_eq $? 2 "no question: usage error (2)"
"$KEEP" --data "$D" ask -k 0 "x" >/dev/null 2>&1; tap_eq $? 2 "-k 0: usage error (2)"
"$KEEP" --data "$D" ask --as nobody "x" >/dev/null 2>"$TAP_TMP/err"; tap_eq $? 1 "--as an unknown user fails (1)"

M="$KEEP_FIXTURES/models/tiny-qwen2-q8_0.gguf"
out=$("$KEEP" --data "$D" ask --json --model "$M" "How many scanners were planned for the cold store hall?")
tap_ok $? "ask --model exits 0"
tap_eq "$(printf '%s' "$out" | jq -r '.mode, .model')" "generative
tiny-qwen2-q8_0.gguf" "generative, the model named"
tap_eq "$(printf '%s' "$out" | jq -r '(.timings.prompt_tokens > 100) and (.timings.generated_tokens > 0) and (.timings.first_token_ms != null)')" \
    "true" "prompt and generated tokens, time to first token"
out=$("$KEEP" --data "$D" ask --json --model "$M" "Who won the football tournament at the summer party?")
tap_eq "$(printf '%s' "$out" | jq -r '.refused, .timings.generated_tokens')" "true
0" "with a model, an unanswerable question is refused without generating"
printf '[answer]\nmodel = %s\nmax_tokens = 4\n' "$M" >>"$D/keep.conf"
out=$("$KEEP" --data "$D" ask --json "How many scanners were planned for the cold store hall?")
tap_eq "$(printf '%s' "$out" | jq -r '.mode, (.timings.generated_tokens <= 4)')" "generative
true" "model and max_tokens from keep.conf"
out=$("$KEEP" --data "$D" ask --json --extractive "How many scanners were planned for the cold store hall?")
tap_eq "$(printf '%s' "$out" | jq -r '.mode')" "extractive" "--extractive overrides keep.conf"
tap_eq "$(printf '%s' "$out" | jq -r '.timings | [has("prefill_ms","decode_ms")] | all')" "true" \
    "timings: prefill_ms, decode_ms"
cp "$D/keep.conf" "$TAP_TMP/keep.conf.bak"
printf 'chat_template = llama3\n' >>"$D/keep.conf"
out=$("$KEEP" --data "$D" ask --json "How many scanners were planned for the cold store hall?")
tap_ok $? "[answer] chat_template = llama3 is accepted"
tap_eq "$(printf '%s' "$out" | jq -r '.mode')" "generative" "and the answer is generated with it"
printf 'chat_template = jinja\n' >>"$D/keep.conf"
"$KEEP" --data "$D" ask "How many scanners were planned for the cold store hall?" >/dev/null 2>"$TAP_TMP/err"
tap_eq $? 1 "an unknown chat_template fails (1)"
tap_match "$(cat "$TAP_TMP/err")" 'chat_template must be auto' "saying which names are known"
cp "$TAP_TMP/keep.conf.bak" "$D/keep.conf"
tap_done
