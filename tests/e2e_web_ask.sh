#!/bin/sh
# e2e_web_ask.sh — answers over HTTP with curl and jq: POST /api/v1/ask
# (JSON shape, citations only of documents the caller may read, refusal),
# its Server-Sent Events stream, the OpenAI-compatible /v1 routes (chat
# completions with and without streaming, embeddings, models), 401 without
# credentials on every new route, a generative server on the tiny fixture
# model (tokens stream, queue events, metrics), a client that goes away
# mid-stream without breaking the next request, more waiting answers than
# request threads while a search is still served, hang-ups of queued answers
# (streamed and plain) cancelling them, and SIGTERM with answers in flight.
# KEEP_TEST_PIECE_DELAY_MS slows the fixture model's pieces where a test
# needs the model busy.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TAP_TMP"' EXIT

mkdir -p "$D"
cat > "$D/keep.conf" <<'EOF'
[web]
threads = 2
timeout_s = 10
EOF
"$KEEP" --data "$D" ingest --collection pol "$KEEP_SRCDIR/samples/policies" >/dev/null 2>&1
"$KEEP" --data "$D" ingest --collection fin "$KEEP_SRCDIR/samples/finance" >/dev/null 2>&1
tap_ok $? "ingest two collections"
"$KEEP" --data "$D" user add alice staff
"$KEEP" --data "$D" user add bob money
"$KEEP" --data "$D" collection grant pol staff
"$KEEP" --data "$D" collection grant fin money
echo 'alice-secret-pw' | "$KEEP" --data "$D" user passwd alice
AT=$("$KEEP" --data "$D" user token alice tests)
BT=$("$KEEP" --data "$D" user token bob tests)
tap_match "$AT$BT" '^keep_.*keep_' "tokens for alice and bob"

start_server() {
    tap_serve "$D" "$TAP_TMP/out" "$TAP_TMP/err"
    pid=$SRV_PID PORT=$SRV_PORT B=$SRV_URL
}
stop_server() {
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    SRV_RC=$?
    pid=
    # a sanitizer's report or a failed shutdown, for the test log
    [ "$SRV_RC" -eq 0 ] || grep -v '^keep: [A-Z]* /' "$TAP_TMP/err" | tail -40 | sed 's/^/#   server: /'
}
start_server
tap_match "$PORT" '^[0-9]+$' "keep serve listens"

code() {
    m=$1 p=$2
    shift 2
    curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "$B$p"
}
# ask TOKEN JSON: POST /api/v1/ask
ask() { curl -s -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2" "$B/api/v1/ask"; }
# chat TOKEN JSON: POST /v1/chat/completions
chat() { curl -s -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2" "$B/v1/chat/completions"; }

FUELQ='What percentage is added to road freight prices to cover fuel?'
PWQ='How long must a staff password be at minimum?'

# ---- 401 ---------------------------------------------------------------------------------------
bad=
for ep in "POST /api/v1/ask" "POST /v1/chat/completions" "POST /v1/embeddings" "GET /v1/models"; do
    c=$(code $ep -H 'Content-Type: application/json' -d '{}')
    [ "$c" = 401 ] || bad="$bad $ep=$c"
    c=$(code $ep -H 'Authorization: Bearer keep_forged' -H 'Content-Type: application/json' -d '{}')
    [ "$c" = 401 ] || bad="$bad forged:$ep=$c"
done
tap_eq "$bad" "" "every answer route is 401 without credentials or with a forged token"
curl -s -o /dev/null -c "$TAP_TMP/alice" -H 'Content-Type: application/json' \
    -d '{"username":"alice","password":"alice-secret-pw"}' "$B/api/v1/login"
tap_eq "$(code GET /v1/models -b "$TAP_TMP/alice")" 401 "the OpenAI routes take API tokens, not sessions"

# ---- POST /api/v1/ask -----------------------------------------------------------------------------
R=$(ask "$AT" "{\"question\":\"$PWQ\"}")
tap_eq "$(printf '%s' "$R" | jq -r '[has("question","answer","refused","mode","model","citations","sentences","timings")] | all')" \
    true "ask: the documented JSON"
tap_eq "$(printf '%s' "$R" | jq -r '.mode, .refused')" "extractive
false" "extractive (no model configured), not refused"
tap_match "$(printf '%s' "$R" | jq -r .answer)" '14 characters' "the answer holds the fact"
tap_eq "$(printf '%s' "$R" | jq -r '[.citations[].collection] | unique | join(",")')" pol "alice's citations are all in her collection"
tap_match "$(printf '%s' "$R" | jq -r '.citations[0].path')" 'password-policy\.md' "the password policy is cited"
DOC=$(printf '%s' "$R" | jq -r '.citations[0].doc_id')
S0=$(printf '%s' "$R" | jq -r '.citations[0].start')
E0=$(printf '%s' "$R" | jq -r '.citations[0].end')
T=$(curl -s -H "Authorization: Bearer $AT" "$B/api/v1/documents/$DOC/text")
tap_match "$(printf '%s' "$T" | jq -r --argjson s "$S0" --argjson e "$E0" '.text[$s:$e]')" '14 characters' \
    "the citation's start/end select the passage inside the document text"

R=$(ask "$AT" "{\"question\":\"$FUELQ\"}")
tap_eq "$(printf '%s' "$R" | jq -r '[.citations[] | select(.collection != "pol")] | length')" 0 \
    "alice never gets a citation of bob's collection"
R=$(ask "$BT" "{\"question\":\"$FUELQ\"}")
tap_match "$(printf '%s' "$R" | jq -r .answer)" '13\.5 %' "bob gets the answer from his collection"
tap_eq "$(printf '%s' "$R" | jq -r '[.citations[].collection] | unique | join(",")')" fin "bob's citations are in fin only"
R=$(ask "$BT" "{\"question\":\"$FUELQ\",\"collection\":\"pol\"}")
tap_eq "$(printf '%s' "$R" | jq -r '(.citations | length)')" 0 "asking a collection one may not read cites nothing"
R=$(ask "$AT" '{"question":"Who won the football tournament at the summer party?"}')
tap_eq "$(printf '%s' "$R" | jq -r '.refused, (.citations | length)')" "true
0" "an unanswerable question is refused without citations"
R=$(ask "$AT" "{\"question\":\"And what about its expiry?\",\"history\":[{\"question\":\"$PWQ\",\"answer\":\"14 characters [1]\"}]}")
tap_eq "$(printf '%s' "$R" | jq -r 'has("answer")')" true "a follow-up with history is answered"
tap_eq "$(code POST /api/v1/ask -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"question":""}')" 400 "an empty question is 400"
tap_eq "$(code POST /api/v1/ask -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"question":"x","history":"no"}')" 400 "a bad history is 400"
tap_eq "$(code POST /api/v1/ask -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"question":"x","k":0}')" 400 "k 0 is 400"

# ---- SSE ------------------------------------------------------------------------------------------------
curl -s -N -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$PWQ\",\"stream\":true}" "$B/api/v1/ask" > "$TAP_TMP/sse"
tap_eq "$(grep '^event: ' "$TAP_TMP/sse" | sed 's/^event: //' | tr '\n' ' ')" "token citations done " \
    "SSE events in order: token, citations, done"
tap_match "$(curl -s -D - -o /dev/null -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$PWQ\",\"stream\":true}" "$B/api/v1/ask")" 'Content-Type: text/event-stream' "served as text/event-stream"
DONE=$(sed -n '/^event: done/{n;s/^data: //p}' "$TAP_TMP/sse")
tap_eq "$(printf '%s' "$DONE" | jq -r '.mode, .refused, (.citations | length > 0)')" "extractive
false
true" "done carries the whole answer JSON"
tap_eq "$(sed -n '/^event: citations/{n;s/^data: //p}' "$TAP_TMP/sse" | jq -c '[.[].n]')" \
    "$(printf '%s' "$DONE" | jq -c '[.citations[].n]')" "the citations event matches the answer's"
tap_match "$(sed -n '/^event: token/{n;s/^data: //p}' "$TAP_TMP/sse" | jq -r .text)" '14 characters' "the token event carries the text"

# ---- OpenAI-compatible ---------------------------------------------------------------------------------
R=$(chat "$BT" "{\"model\":\"keep\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"$FUELQ\"}]}")
tap_eq "$(printf '%s' "$R" | jq -r '.object, .model, .choices[0].message.role, .choices[0].finish_reason')" "chat.completion
keep
assistant
stop" "chat completion shape"
tap_match "$(printf '%s' "$R" | jq -r '.choices[0].message.content')" '13\.5 %' "the completion answers from the documents"
tap_eq "$(printf '%s' "$R" | jq -r '(.keep.citations | length > 0), ([.keep.citations[].collection] | unique | join(","))')" "true
fin" "citations in the keep field"
tap_eq "$(printf '%s' "$R" | jq -r '.usage | [has("prompt_tokens","completion_tokens","total_tokens")] | all')" true "usage block"
R=$(chat "$AT" "{\"model\":\"keep\",\"messages\":[{\"role\":\"user\",\"content\":\"$FUELQ\"}]}")
tap_eq "$(printf '%s' "$R" | jq -r '[.keep.citations[] | select(.collection != "pol")] | length')" 0 \
    "chat completions never cite another group's document"
R=$(chat "$AT" "{\"messages\":[{\"role\":\"user\",\"content\":\"$PWQ\"},{\"role\":\"assistant\",\"content\":\"14 characters\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"$PWQ\"}]}]}")
tap_match "$(printf '%s' "$R" | jq -r '.choices[0].message.content')" '14 characters' "earlier turns and content parts are accepted"
tap_eq "$(code POST /v1/chat/completions -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}')" 404 "another model name is 404"
tap_eq "$(code POST /v1/chat/completions -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"messages":[{"role":"assistant","content":"x"}]}')" 400 "no user question is 400"
curl -s -N -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' \
    -d "{\"model\":\"keep\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$PWQ\"}]}" \
    "$B/v1/chat/completions" > "$TAP_TMP/oai"
tap_eq "$(grep -v '^$' "$TAP_TMP/oai" | tail -n 1)" "data: [DONE]" "the OpenAI stream ends with data: [DONE]"
tap_eq "$(grep '^data: {' "$TAP_TMP/oai" | sed 's/^data: //' | jq -r .object | sort -u)" "chat.completion.chunk" "every chunk is a chat.completion.chunk"
tap_match "$(grep '^data: {' "$TAP_TMP/oai" | sed 's/^data: //' | jq -r '.choices[0].delta.content // empty' | tr -d '\n')" '14 characters' "the chunks carry the answer"
tap_eq "$(grep '^data: {' "$TAP_TMP/oai" | tail -n 1 | sed 's/^data: //' | jq -r '.choices[0].finish_reason, (.keep.citations | length > 0)')" "stop
true" "the last chunk finishes and carries the citations"

R=$(curl -s -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"input":["road freight prices fuel surcharge","staff password minimum characters"],"model":"x"}' "$B/v1/embeddings")
tap_eq "$(printf '%s' "$R" | jq -r '.object, (.data | length), .data[0].object, .data[1].index')" "list
2
embedding
1" "embeddings: OpenAI list shape"
DIM=$(printf '%s' "$R" | jq -r '.data[0].embedding | length')
tap_eq "$(printf '%s' "$R" | jq -r '[.data[].embedding | length] | unique | length')" 1 "every vector has the same dimension"
tap_match "$DIM" '^[1-9][0-9]*$' "the dimension is positive ($DIM)"
tap_eq "$(printf '%s' "$R" | jq -r '[.data[].embedding | map(. * .) | add | . > 0.99 and . < 1.01] | all')" true "vectors are L2-normalised"
tap_eq "$(code POST /v1/embeddings -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"input":[]}')" 400 "no input is 400"
R=$(curl -s -H "Authorization: Bearer $AT" "$B/v1/models")
tap_eq "$(printf '%s' "$R" | jq -r '.object, .data[0].id, (.data | length), .data[1].object')" "list
keep
2
model" "models: keep and the embedding model"
tap_eq "$(printf '%s' "$R" | jq -r '.data[1].id')" "$(curl -s -H "Authorization: Bearer $AT" -H 'Content-Type: application/json' -d '{"input":"x"}' "$B/v1/embeddings" | jq -r .model)" \
    "the embedding model listed is the one that embeds"
tap_eq "$(curl -s "$B/api/v1/openapi.json" | jq -r '.paths | has("/api/v1/ask") and has("/v1/chat/completions") and has("/v1/embeddings") and has("/v1/models")')" \
    true "the OpenAPI document lists the new routes"
PAGE=$(curl -s "$B/")
tap_match "$PAGE" 'id="view-ask"' "the UI has an Ask page"
tap_match "$PAGE" 'id="cite-panel"' "with a side panel for the cited passage"
JS=$(curl -s "$B/assets/app.js")
tap_match "$JS" '"/api/v1/ask"' "the Ask page posts to /api/v1/ask"
tap_match "$JS" 'getReader\(\)' "and reads the event stream as it comes (ReadableStream)"
if printf '%s' "$PAGE" | grep -Eq '<script>|onclick=|https?://'; then tap_ok 1 "no inline script or outside resource in the page"
else tap_ok 0 "no inline script or outside resource in the page"; fi
stop_server

# ---- generative ---------------------------------------------------------------------------------------------
M="$KEEP_FIXTURES/models/tiny-qwen2-q8_0.gguf"
cat > "$D/keep.conf" <<EOF
[web]
threads = 3
timeout_s = 10
[answer]
model = $M
max_tokens = 24
sequences = 1
timeout_s = 60
EOF
start_server
tap_match "$PORT" '^[0-9]+$' "keep serve starts with a model"
tap_match "$(cat "$TAP_TMP/err")" 'answers: .*tiny-qwen2-q8_0\.gguf' "the model is loaded once at start"
curl -s -N -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$FUELQ\",\"stream\":true}" "$B/api/v1/ask" > "$TAP_TMP/gsse"
tap_eq "$(grep '^event: ' "$TAP_TMP/gsse" | sed 's/^event: //' | uniq | tr '\n' ' ')" "queue token citations done " \
    "generative SSE: queue, tokens, citations, done"
tap_eq "$(grep -c '^event: token' "$TAP_TMP/gsse" | awk '{print ($1 > 1)}')" 1 "the answer streams as several token events"
tap_eq "$(sed -n '/^event: done/{n;s/^data: //p}' "$TAP_TMP/gsse" | jq -r '.mode, .model, (.timings.generated_tokens > 0)')" "generative
tiny-qwen2-q8_0.gguf
true" "done: generative, the model named, tokens generated"
curl -s -N -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d "{\"model\":\"keep\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$FUELQ\"}]}" \
    "$B/v1/chat/completions" > "$TAP_TMP/goai"
tap_eq "$(grep -c '^data: {' "$TAP_TMP/goai" | awk '{print ($1 > 2)}')" 1 "OpenAI stream: several chunks from the model"
tap_eq "$(grep -v '^$' "$TAP_TMP/goai" | tail -n 1)" "data: [DONE]" "and it ends with [DONE]"
R=$(chat "$BT" "{\"messages\":[{\"role\":\"user\",\"content\":\"$FUELQ\"}]}")
tap_eq "$(printf '%s' "$R" | jq -r '.keep.mode, (.usage.completion_tokens > 0)')" "generative
true" "non-streaming completion from the model"

MET=$(curl -s "$B/metrics")
tap_match "$MET" 'keep_answer_queue_depth 0' "metrics: queue depth"
tap_match "$MET" 'keep_generated_tokens_total [1-9]' "metrics: generated tokens"
tap_match "$MET" 'keep_generated_tokens_per_second [0-9.]*[1-9]' "metrics: tokens per second"
stop_server
tap_eq "$SRV_RC" 0 "the server stops cleanly on SIGTERM after answering"

# ---- one sequence, long answers: the queue, and a client that goes away ---------------------------------
sed -i 's/^max_tokens = .*/max_tokens = 4000\nthreads = 1/' "$D/keep.conf"
start_server
# wait_for FILE PATTERN: up to 10 s for PATTERN to appear in FILE
wait_for() {
    i=0
    while [ $i -lt 500 ] && ! grep -q "$2" "$1" 2>/dev/null; do sleep 0.02; i=$((i + 1)); done
    grep -q "$2" "$1" 2>/dev/null
}
sse_ask() { # sse_ask OUT: a streamed answer to the fuel question into OUT
    curl -s -N -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
        -d "{\"question\":\"$FUELQ\",\"stream\":true}" "$B/api/v1/ask" > "$1" 2>/dev/null
}
sse_ask "$TAP_TMP/q1" &
c1=$!
sse_ask "$TAP_TMP/q2" &
c2=$!
wait "$c1" "$c2"
tap_eq "$(cat "$TAP_TMP/q1" "$TAP_TMP/q2" | sed -n '/^event: queue/{n;s/^data: //p}' | jq -r .position | sort -u | head -n 2 | tr '\n' ' ')" "0 1 " \
    "two askers, one sequence: one is told its place in the queue (1)"
tap_eq "$(for f in q1 q2; do sed -n '/^event: queue/{n;s/^data: //p}' "$TAP_TMP/$f" | tail -n 1; done | jq -r .position | tr '\n' ' ')" "0 0 " \
    "both then start (position 0)"
tap_eq "$(cat "$TAP_TMP/q1" "$TAP_TMP/q2" | grep -c '^event: done')" 2 "both answers end with done"

# the client reads the first events and hangs up (curl dies of SIGPIPE at its next write)
curl -s -N -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$FUELQ\",\"stream\":true}" "$B/api/v1/ask" 2>/dev/null | head -c 200 > "$TAP_TMP/first"
tap_match "$(cat "$TAP_TMP/first")" 'event: token' "a long answer streams"
wait_for "$TAP_TMP/err" 'ask: stopped, the client went away'
tap_ok $? "the client going away mid-stream cancels its answer"
tap_eq "$(grep -c '^event: done' "$TAP_TMP/first")" 0 "the cancelled stream got no done event"

# ---- more waiting answers than request threads (3) and pooled stores (5) ----------------------------------
# One long answer holds the only sequence; six more streams and a plain JSON
# answer wait in the queue with their connections suspended, so a search is
# still served at once. Then the clients hang up one by one while queued:
# each answer is cancelled (seen on the suspended socket, not by timing).
stopped() { grep -c 'ask: stopped, the client went away' "$TAP_TMP/err"; }
qdepth() { curl -s -m 5 "$B/metrics" | sed -n 's/^keep_answer_queue_depth //p'; }
wait_depth() { # wait_depth N: up to 20 s for the queue to hold N answers
    i=0
    while [ $i -lt 400 ] && [ "$(qdepth)" != "$1" ]; do sleep 0.05; i=$((i + 1)); done
    [ "$(qdepth)" = "$1" ]
}
wait_stopped() { # wait_stopped N: up to 20 s for N cancellations in the log
    i=0
    while [ $i -lt 400 ] && [ "$(stopped)" -lt "$1" ]; do sleep 0.05; i=$((i + 1)); done
    [ "$(stopped)" -ge "$1" ]
}
# the fixture model answers in a blink: each streamed piece is slowed for this part
stop_server
KEEP_TEST_PIECE_DELAY_MS=50
export KEEP_TEST_PIECE_DELAY_MS
start_server
unset KEEP_TEST_PIECE_DELAY_MS
S0=$(stopped)
curl -s -N -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$FUELQ\",\"stream\":true}" "$B/api/v1/ask" > "$TAP_TMP/long" 2>/dev/null &
long=$!
wait_for "$TAP_TMP/long" 'event: token'
tap_ok $? "a long answer holds the only sequence"
waiting=
for n in 1 2 3 4 5 6; do
    curl -s -N -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
        -d "{\"question\":\"$FUELQ\",\"stream\":true}" "$B/api/v1/ask" > "$TAP_TMP/w$n" 2>/dev/null &
    waiting="$waiting $!"
done
wait_depth 6
tap_ok $? "six more streamed answers wait in the queue (more than the 3 request threads)"
tap_eq "$(for n in 1 2 3 4 5 6; do sed -n '/^event: queue/{n;s/^data: //p}' "$TAP_TMP/w$n" | head -n 1; done | jq -r '.position > 0' | sort -u)" \
    true "each was told its place in the queue"
t0=$(date +%s%N)
R=$(curl -s -m 5 -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d '{"query":"fuel surcharge road freight"}' "$B/api/v1/search")
t1=$(date +%s%N)
tap_match "$(printf '%s' "$R" | jq -r '.results[0].path')" 'finance' "meanwhile a search is answered"
tap_eq "$(( (t1 - t0) / 1000000 < 5000 ))" 1 "within 5 s ($(( (t1 - t0) / 1000000 )) ms)"
tap_eq "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$B/healthz")" 200 "and so is /healthz"
# a plain JSON answer whose client gives up while it waits is stopped
curl -s -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$FUELQ\"}" "$B/api/v1/ask" >/dev/null 2>&1 &
plain=$!
wait_depth 7
tap_ok $? "a plain JSON answer waits in the queue too"
kill "$plain"
wait "$plain" 2>/dev/null
wait_stopped $((S0 + 1))
tap_ok $? "a non-streaming answer stops when its client hangs up while queued"
wait_depth 6
tap_ok $? "and leaves the queue"
for c in $waiting; do kill "$c"; done
wait_stopped $((S0 + 7))
tap_ok $? "six waiting streams whose clients hang up are cancelled"
wait_depth 0
tap_ok $? "the queue is empty again"
kill "$long"
wait_stopped $((S0 + 8))
tap_ok $? "and the long answer stops when its client hangs up"
wait $long $waiting 2>/dev/null
R=$(chat "$BT" "{\"messages\":[{\"role\":\"user\",\"content\":\"$FUELQ\"}]}")
tap_eq "$(printf '%s' "$R" | jq -r '.keep.mode')" generative "the next request after a disconnect works"
stop_server
tap_eq "$SRV_RC" 0 "the server stops cleanly"

# ---- SIGTERM while answers run and wait: in-flight requests get the grace
# period (timeout_s), then the answers still running end with an error, the
# suspended connections are resumed, and the server exits cleanly
sed -i 's/^timeout_s = 10$/timeout_s = 2/' "$D/keep.conf"
KEEP_TEST_PIECE_DELAY_MS=50
export KEEP_TEST_PIECE_DELAY_MS
start_server
unset KEEP_TEST_PIECE_DELAY_MS
curl -s -N -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$FUELQ\",\"stream\":true}" "$B/api/v1/ask" > "$TAP_TMP/term1" 2>/dev/null &
c1=$!
wait_for "$TAP_TMP/term1" 'event: token'
curl -s -o "$TAP_TMP/term2" -w '%{http_code}' -H "Authorization: Bearer $BT" -H 'Content-Type: application/json' \
    -d "{\"question\":\"$FUELQ\"}" "$B/api/v1/ask" > "$TAP_TMP/term2code" 2>/dev/null &
c2=$!
wait_depth 1
tap_ok $? "SIGTERM test: one answer streams, one waits"
stop_server
tap_eq "$SRV_RC" 0 "SIGTERM with a streaming and a waiting answer: the server exits cleanly"
wait "$c1" "$c2"
tap_eq "$(sed -n '/^event: error/{n;s/^data: //p}' "$TAP_TMP/term1" | jq -r .message)" \
    "the server is shutting down" "the stream ends with an error event saying so"
tap_eq "$(cat "$TAP_TMP/term2code") $(jq -r .error.code "$TAP_TMP/term2")" "503 unavailable" \
    "the waiting plain answer gets 503"
tap_match "$(cat "$TAP_TMP/err")" 'ask: stopped, the server is shutting down' "the log says why they stopped"
tap_done
