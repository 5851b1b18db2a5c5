#!/bin/sh
# build.sh — regenerates the binary sample documents (Office, PDF, the scanned
# memo, the e-mail with a PDF attachment) from the plain-text sources here.
# The .md/.txt/.csv/.tsv/.html/.xml/.mbox samples and the HTML-only e-mail
# are written by hand and are their own source.
#
#   SRC/<path>.<ext>.txt  ->  samples/<path>.<ext>   (mkodf.py, then LibreOffice)
#   SRC/<path>.eml.txt    ->  samples/<path>.eml     (mkmail.py; attachments from SRC/attachments/)
#   SRC/<path>.png.txt    ->  samples/<path>.png     (PDF, pdftoppm, scan.py)
#
# Needs (Debian): python3, python3-pil, poppler-utils, libreoffice-writer-nogui,
# libreoffice-calc-nogui, libreoffice-impress-nogui. Tests read the committed
# outputs; this script is only for changing the corpus.
set -eu
SRC=$(cd "$(dirname "$0")" && pwd)
OUT=$(dirname "$SRC")
TMP=$(mktemp -d /tmp/keep-samples-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# Debian's python3 (python3-pil lives there, not in a pyenv one)
PY=${PYTHON:-/usr/bin/python3}
SOFFICE="soffice --headless --norestore -env:UserInstallation=file://$TMP/profile"

# convert FLAT_ODF TARGET_EXT OUTFILE
convert() {
    case "$2" in
        docx) filter='docx:MS Word 2007 XML' ;;
        pptx) filter='pptx:Impress MS PowerPoint 2007 XML' ;;
        xlsx) filter='xlsx:Calc MS Excel 2007 XML' ;;
        pdf) filter='pdf:writer_pdf_Export' ;;
        *) filter="$2" ;;
    esac
    rm -rf "$TMP/conv" && mkdir -p "$TMP/conv"
    $SOFFICE --convert-to "$filter" --outdir "$TMP/conv" "$1" >/dev/null 2>&1
    mkdir -p "$(dirname "$3")"
    mv "$TMP/conv/"*."$2" "$3"
}

# build SOURCE OUTFILE
build() {
    ext=${2##*.}
    base=$(basename "$2" ".$ext")
    case "$ext" in
        docx | odt | pdf | png) flat=fodt ;;
        pptx | odp) flat=fodp ;;
        xlsx | ods) flat=fods ;;
        *) echo "build.sh: no rule for $1" >&2; exit 1 ;;
    esac
    "$PY" "$SRC/mkodf.py" "$1" "$TMP/$base.$flat"
    if [ "$ext" = png ]; then
        convert "$TMP/$base.$flat" pdf "$TMP/$base.pdf"
        pdftoppm -r 110 -gray -singlefile -png "$TMP/$base.pdf" "$TMP/$base-page"
        mkdir -p "$(dirname "$2")"
        "$PY" "$SRC/scan.py" "$TMP/$base-page.png" "$2"
    else
        convert "$TMP/$base.$flat" "$ext" "$2"
    fi
    echo "built ${2#"$OUT"/}"
}

# attachments first: e-mails include them
mkdir -p "$TMP/attachments"
for s in "$SRC"/attachments/*.txt; do
    [ -e "$s" ] || continue
    n=$(basename "$s" .txt)
    build "$s" "$TMP/attachments/$n"
done

find "$SRC" -name '*.txt' ! -path "$SRC/attachments/*" | sort | while read -r s; do
    rel=${s#"$SRC"/}
    dst="$OUT/${rel%.txt}"
    case "$dst" in
        *.eml)
            mkdir -p "$(dirname "$dst")"
            "$PY" "$SRC/mkmail.py" "$s" "$TMP/attachments" "$dst"
            echo "built ${dst#"$OUT"/}" ;;
        *) build "$s" "$dst" ;;
    esac
done
