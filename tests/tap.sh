# tap.sh — TAP helpers for shell tests (sourced). ok/not ok lines, a plan at
# the end, and a temp dir removed on exit.
TAP_N=0
TAP_FAILED=0
TAP_TMP=$(mktemp -d /tmp/keep-e2e-XXXXXX)
trap 'rm -rf "$TAP_TMP"' EXIT

tap_ok() { # tap_ok CONDITION_STATUS DESCRIPTION
    TAP_N=$((TAP_N + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $TAP_N - $2"
    else
        TAP_FAILED=$((TAP_FAILED + 1))
        echo "not ok $TAP_N - $2"
    fi
}

# tap_eq ACTUAL EXPECTED DESCRIPTION
tap_eq() {
    if [ "$1" = "$2" ]; then tap_ok 0 "$3"; else
        tap_ok 1 "$3"
        echo "#   got:      $1"
        echo "#   expected: $2"
    fi
}

# tap_match TEXT PATTERN DESCRIPTION (grep -E)
tap_match() {
    if printf '%s' "$1" | grep -Eq -- "$2"; then tap_ok 0 "$3"; else
        tap_ok 1 "$3"
        echo "#   text: $(printf '%s' "$1" | head -c 400)"
        echo "#   does not match: $2"
    fi
}

tap_done() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}

# tap_port ERRFILE [SCHEME]: waits up to 20 s for `keep serve` to say in
# ERRFILE where it listens (SCHEME http or https); prints the port, or
# nothing and fails.
tap_port() {
    _i=0
    while [ $_i -lt 200 ]; do
        _p=$(sed -n "s/^keep: serving on ${2:-http}:\/\/127.0.0.1:\([0-9]*\).*/\1/p" "$1" 2>/dev/null)
        [ -n "$_p" ] && { echo "$_p"; return 0; }
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# tap_serve DATADIR OUTFILE ERRFILE: starts `keep serve` on a free port of
# 127.0.0.1 in the background; sets SRV_PID, SRV_PORT (empty when it never
# said where it listens) and SRV_URL.
tap_serve() {
    : >"$3"
    "$KEEP" --data "$1" serve --listen 127.0.0.1:0 >"$2" 2>"$3" &
    SRV_PID=$!
    SRV_PORT=$(tap_port "$3")
    SRV_URL="http://127.0.0.1:$SRV_PORT"
}
