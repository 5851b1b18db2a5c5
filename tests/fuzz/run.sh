#!/bin/sh
# run.sh BUILD_DIR SECONDS — runs every built fuzz target for SECONDS on a
# scratch copy of its seed corpus (the committed corpus is never modified) and
# prints one TAP line per target. A crash leaves its input in BUILD_DIR/fuzz-out/.
set -u
build=$1
secs=${2:-20}
src=$(cd "$(dirname "$0")" && pwd)
out="$build/fuzz-out"
mkdir -p "$out"
# leaks inside uninstrumented system libraries (see lsan.supp) are not ours
LSAN_OPTIONS="suppressions=$src/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
n=0
failed=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin" | sed 's/^fuzz_//')
    n=$((n + 1))
    work=$(mktemp -d)
    [ -d "$src/corpus/$name" ] && cp -r "$src/corpus/$name/." "$work/"
    if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$out/$name-" \
        "$work" >"$out/$name.log" 2>&1; then
        echo "ok $n - fuzz $name for ${secs}s"
    else
        failed=$((failed + 1))
        echo "not ok $n - fuzz $name for ${secs}s (see $out/$name.log)"
        tail -20 "$out/$name.log" | sed 's/^/#   /'
    fi
    rm -rf "$work"
done
echo "1..$n"
[ "$failed" -eq 0 ]
