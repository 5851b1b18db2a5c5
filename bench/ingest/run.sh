#!/bin/sh
# bench/ingest/run.sh [TARGET_MB] — ingest throughput per format, without
# embedding: the documents of samples/ (and the parser test files that are
# not deliberately hostile) are copied until each format holds about
# TARGET_MB/number-of-formats megabytes (TARGET_MB defaults to 200), then
# each format is ingested into a fresh data directory. PDF is also timed with
# poppler's pdftotext on the same files, in the same run, for comparison.
# Prints a Markdown table. Needs a built ./build/keep (or KEEP=path).
set -eu
cd "$(dirname "$0")/../.."
KEEP=${KEEP:-$PWD/build/keep}
TARGET_MB=${1:-200}
WORK=$(mktemp -d /tmp/keep-bench-ingest-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
command -v pdftotext >/dev/null || {
    echo "bench/ingest: installing poppler-utils for pdftotext" >&2
    apt-get install -y -q poppler-utils >/dev/null
}

# source files per format: samples first, then parser test data without the
# hostile ones (bombs, laughs, xxe, deep, locked, encrypted, huge)
sources() {
    find samples tests/data/office tests/data/pdfweb tests/data/mailtext -type f -name "*.$1" 2>/dev/null |
        grep -viE 'bomb|laugh|xxe|deep|lock|encrypt|huge|truncat|garbage|corrupt|tiny|/src/|/\.src/' || true
}

FORMATS="pdf docx pptx xlsx odt ods odp html md txt csv eml"
n_formats=$(echo $FORMATS | wc -w)
per_format=$((TARGET_MB * 1024 * 1024 / n_formats))

echo "| format | files | MB | seconds | MB/s | docs/s | chunks |"
echo "|---|---|---|---|---|---|---|"
total_mb=0
for f in $FORMATS; do
    src=$(sources "$f")
    [ -n "$src" ] || continue
    dir="$WORK/$f"
    mkdir -p "$dir"
    bytes=0
    copy=0
    while [ "$bytes" -lt "$per_format" ]; do
        for s in $src; do
            cp "$s" "$dir/c${copy}_$(basename "$s")"
            bytes=$((bytes + $(stat -c %s "$s")))
        done
        copy=$((copy + 1))
    done
    files=$(ls "$dir" | wc -l)
    data="$WORK/data-$f"
    t0=$(date +%s.%N)
    out=$("$KEEP" --data "$data" ingest --no-embed --json "$dir" || true)
    t1=$(date +%s.%N)
    chunks=$(sqlite3 "$data/keep.db" "SELECT count(*) FROM chunks")
    echo "$out" | jq -e '.failed == 0' >/dev/null || echo "bench/ingest: $f had failures: $(echo "$out" | jq -c '[.files[] | select(.status == "failed")][0]')" >&2
    awk -v f="$f" -v n="$files" -v b="$bytes" -v a="$t0" -v z="$t1" -v c="$chunks" \
        'BEGIN { s = z - a; printf "| %s | %d | %.1f | %.2f | %.1f | %.0f | %d |\n", f, n, b / 1048576, s, b / 1048576 / s, n / s, c }'
    if [ "$f" = pdf ]; then
        t0=$(date +%s.%N)
        for p in "$dir"/*.pdf; do pdftotext "$p" /dev/null 2>/dev/null || true; done
        t1=$(date +%s.%N)
        awk -v n="$files" -v b="$bytes" -v a="$t0" -v z="$t1" \
            'BEGIN { s = z - a; printf "| pdf with pdftotext (poppler-utils), same files | %d | %.1f | %.2f | %.1f | %.0f | - |\n", n, b / 1048576, s, b / 1048576 / s, n / s }'
    fi
    rm -rf "$dir" "$data"
done
