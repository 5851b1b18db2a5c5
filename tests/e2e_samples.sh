#!/bin/sh
# e2e_samples.sh — the Brightwater Freight sample corpus (samples/) end to
# end: every document is indexed (the scanned memo by OCR, or skipped when the
# build has no Tesseract; nothing failed), and for each format one fact is found by `keep search
# --json` in the right file with the right location (heading path, sheet,
# slide, page, attachment path). Facts are quoted from samples/; change them
# together. Groups name the parser they depend on.
. "$KEEP_SRCDIR/tests/tap.sh"
KEEP="$KEEP_BIN"
D="$TAP_TMP/data"
S="$TAP_TMP/samples"

# samples/.src holds the plain-text sources of the generated files (a dot-name,
# which ingest skips); it is removed from the copy all the same
cp -r "$KEEP_SRCDIR/samples" "$S" && rm -rf "$S/.src"

out=$("$KEEP" --data "$D" ingest --json "$S" 2>"$TAP_TMP/err"); tap_ok $? "ingest samples exits 0"
tap_eq "$(printf '%s' "$out" | jq -r '.failed')" "0" "no sample failed"
"$KEEP" --data "$D" docs list --json >"$TAP_TMP/docs.json"; tap_ok $? "docs list --json exits 0"

# status REL: status of samples/REL (REL may name an attachment: mail.eml#file.pdf)
status() {
    jq -r --arg p "$S/$1" '[.documents[] | select(.path == $p) | .status] | first // "missing"' "$TAP_TMP/docs.json"
}
# indexed REL...: one test per file
indexed() {
    for f in "$@"; do tap_eq "$(status "$f")" "indexed" "indexed: $f"; done
}

# find QUERY PATH_SUFFIX: the best result from the file whose path ends with
# PATH_SUFFIX among the top 5 for QUERY (as one JSON object, or empty); the
# description of later tests names the query. Sets RANK to its rank.
find_hit() {
    "$KEEP" --data "$D" search --json -k 5 "$1" >"$TAP_TMP/hits.json"
    HIT=$(jq -c --arg s "$2" '[.results[] | select(.path | endswith($s))] | first // empty' "$TAP_TMP/hits.json")
    RANK=$(printf '%s' "$HIT" | jq -r '.rank // "none"')
    if [ -n "$HIT" ]; then tap_ok 0 "[$1] finds $2 (rank $RANK)"; else
        tap_ok 1 "[$1] finds $2"
        echo "#   top results: $(jq -r '[.results[].path | sub(".*/samples/"; "")] | join(", ")' "$TAP_TMP/hits.json")"
    fi
}
hit() { printf '%s' "$HIT" | jq -r "$1"; }

# tap_todo STATUS DESCRIPTION REASON: a known parser bug (TAP TODO: not ok is
# an expected failure; ok turns into an unexpected pass, so the fix gets noticed)
tap_todo() {
    TAP_N=$((TAP_N + 1))
    if [ "$1" -eq 0 ]; then echo "ok $TAP_N - $2 # TODO $3"; else echo "not ok $TAP_N - $2 # TODO $3"; fi
}

# top QUERY PATH_SUFFIX: like find_hit, and the file must be the top result of
# both the default hybrid ranking and the lexical one. On a corpus this small
# the corpus-learned embedder is a weak signal; hybrid fusion weighs it by how
# much its space had to compress the corpus (README "Retrieval"), so the
# fact-bearing passage must still come first.
top() {
    find_hit "$1" "$2"
    tap_eq "$RANK" "1" "[$1] top hybrid result is $2"
    r=$("$KEEP" --data "$D" search --json --mode bm25 -k 5 "$1" |
        jq -r --arg s "$2" '[.results[] | select(.path | endswith($s)) | .rank] | first // "none"')
    tap_eq "$r" "1" "[$1] top bm25 result is $2"
}

# ---- text, Markdown, CSV/TSV, e-mail (parsers on main) ---------------------------

indexed README.md hr/onboarding-checklist.md hr/org-chart.md hr/handbook/06-remote-work.md \
    meetings/2026-10-14-ops-weekly.md meetings/2026-11-02-security-review.txt \
    policies/backup-policy.md policies/password-policy.md policies/travel-expenses.md \
    runbooks/database-failover.md runbooks/vpn-incident.txt \
    customer-service/customer-faq.md it/incidents/INC-2026-0412-wms-outage.md \
    it/incidents/INC-2026-0388-label-printers.txt operations/yard-and-gate-rules.txt \
    finance/cost-centres.csv operations/depots.csv it/asset-inventory.tsv \
    mail/2026-10-20-staff-newsletter.eml mail/2026-11-05-fuel-contract-summary.eml \
    sales/2026-08-06-offer-elbtal-molkerei.eml mail/scanner-cradles-thread.mbox

# the scanned memo (PNG): read by OCR when the build has Tesseract, else
# skipped with the reason and none of its words searchable
memo=operations/scans/memo-forklift-charging.png
memo_why=$(jq -r --arg p "$S/$memo" '.documents[] | select(.path == $p) | .error // ""' "$TAP_TMP/docs.json")
case "$memo_why" in
*"this build does not have"*)
    tap_eq "$(status $memo)" "skipped" "scanned memo (PNG) skipped: no OCR in this build"
    tap_eq "$("$KEEP" --data "$D" search --json "forklift charging room gate C7 eye-wash" | jq '[.results[] | select(.path | test("memo"))] | length')" \
        "0" "nothing of the scanned memo is searchable"
    ;;
*)
    indexed $memo
    top "where are forklift batteries charged from 16 November" $memo
    tap_match "$(hit .text)" "forklift batteries are charged only.{0,2}in the new charging room in Hall C" \
        "OCR fact: batteries charged in the new room in Hall C"
    tap_match "$(hit .text)" "24 charging places" "OCR fact: 24 charging places"
    tap_eq "$(hit .location.page)" "1" "scanned memo: page 1"
    tap_eq "$(hit .ocr)" "true" "scanned memo: the result is marked OCR"
    find_hit "how many dock doors does the Maasvlakte site have" operations/depots.csv
    tap_eq "$(hit .ocr)" "false" "a CSV result is not marked OCR"
    # keep.conf turns OCR off: the memo is skipped with that reason
    D2="$TAP_TMP/data-ocr-off"
    mkdir -p "$D2" && chmod 700 "$D2" && printf '[ingest]\nocr = off\n' >"$D2/keep.conf"
    "$KEEP" --data "$D2" ingest "$S/$memo" >/dev/null 2>&1
    tap_eq "$("$KEEP" --data "$D2" docs list --json | jq -r '.documents[0] | "\(.status): \(.error)"')" \
        "skipped: OCR is turned off in keep.conf" "ocr = off in keep.conf: the memo is skipped with the reason"
    ;;
esac

# Markdown: heading path of a bold figure in a list
top "how much money do I get for a desk chair when working from home" hr/handbook/06-remote-work.md
tap_eq "$(hit .location.heading)" "Employee Handbook - Chapter 6: Remote Work > Equipment and costs" "markdown heading path"
tap_match "$(hit .text)" "home office allowance of EUR 450" "markdown fact: EUR 450 allowance"
tap_eq "$(hit .location.page)" "null" "markdown has no page"

# Markdown: key/value table of an incident review
top "root cause WMS outage Leipzig archive job" it/incidents/INC-2026-0412-wms-outage.md
tap_match "$(hit .text)" "archive job of the WMS database had been disabled" "incident review root cause"

# plain text
top "printer darkness setting firmware update blank labels" it/incidents/INC-2026-0388-label-printers.txt
tap_match "$(hit .text)" "reset the darkness setting from 22 to 10" "text fact: darkness 22 -> 10"

# CSV: one row rendered with its header names
top "which cost centre belongs to the Rotterdam depot" finance/cost-centres.csv
tap_match "$(hit .text)" "Cost centre: 4310; Name: Rotterdam depot; Owner: Willem de Vries; Site: Rotterdam; Budget 2027 \(EUR\): 5,370,000" \
    "CSV row with header names (quoted comma field kept whole)"
find_hit "how many dock doors does the Maasvlakte site have" operations/depots.csv
tap_match "$(hit .text)" "Site code: RTM1; Site: Rotterdam depot; Address: Europaweg 910, 3199 LC Maasvlakte Rotterdam; Manager: Willem de Vries; Dock doors: 14" \
    "CSV row: RTM1 has 14 dock doors"

# TSV
top "in which rack is the server cmp-ham-07 installed" it/asset-inventory.tsv
tap_match "$(hit .text)" "Hostname or user: cmp-ham-07; Site: HAM1; Location: Data centre HAM-DC1, rack B4, units 20-21" \
    "TSV row: cmp-ham-07 in rack B4"

# e-mail: body, a PDF attachment as child document mail.eml#file.pdf with its page
find_hit "when should the signed Nordlicht agreement go back" mail/2026-11-05-fuel-contract-summary.eml
tap_match "$(hit .text)" "return the signed agreement to Nordlicht by 20 November" "e-mail body text"
tap_match "$(hit .text)" "From: Rafael Costa" "e-mail headers in the text"

# e-mail: HTML-only message, tags and quoted-printable decoded
top "Leipzig canteen closed kitchen renovation" mail/2026-10-20-staff-newsletter.eml
tap_match "$(hit .text)" "closed from 21 to 23 December 2026" "HTML-only e-mail: canteen closed 21-23 December"
tap_match "$(hit .text)" "Sachsenküche" "quoted-printable UTF-8 decoded"
tap_eq "$(hit '.text | test("<(html|p|h2|li)|=3D|&ndash;")')" "false" "no tags, QP escapes or entities left"

# mbox: one message of the thread with its own heading
top "warranty extension for the charging cradles" mail/scanner-cradles-thread.mbox
tap_match "$(hit .location.heading)" "^Re: Charging cradles for Leipzig - wrong power supplies — Bettina Maurer, 2026-10-16" \
    "mbox message heading: subject, author, date"
tap_match "$(hit .text)" "extend the warranty of all 15 cradles from 24 to 36 months" "mbox message text"
tap_eq "$(hit '.text | test("Marta, Lukas")')" "false" "the chunk holds that message, not the next one"

# ---- Office: docx, pptx, xlsx, odt, odp, ods (parsers on branch office) ---------------

indexed hr/handbook/04-leave-and-absence.docx meetings/2026-11-12-it-steering-committee.docx \
    projects/rotterdam-depot-plan.docx hr/handbook/02-working-time.odt \
    operations/warehouse-safety-rules.odt projects/scanner-rollout-status.pptx \
    management/strategy-2027.pptx projects/route-optimisation-review.odp \
    finance/price-list-2027.xlsx it/laptop-refresh-2027.xlsx finance/kpi-q3-2026.ods \
    hr/training-calendar-2027.ods

# docx: heading path and a table row with header names
top "paid days off for moving house privately" hr/handbook/04-leave-and-absence.docx
tap_eq "$(hit .location.heading)" "Chapter 4: Leave and Absence > 4.3 Special leave" "docx heading path"
tap_match "$(hit .text)" "Occasion: Moving house for private reasons; Days of paid leave: 1; Proof required: Registration certificate" \
    "docx table row with header names"
# docx: three heading levels
top "how many pallet positions does the racking in Rotterdam have" projects/rotterdam-depot-plan.docx
tap_eq "$(hit .location.heading)" "Rotterdam Depot Project Plan > 3. Milestones > 3.2 Phase 2: Fit-out" "docx three-level heading path"
tap_match "$(hit .text)" "racking with 1,850 pallet positions" "docx fact: 1,850 pallet positions"

# odt
top "night allowance percent of hourly pay" hr/handbook/02-working-time.odt
tap_eq "$(hit .location.heading)" "Chapter 2: Working Time > 2.4 Shift allowances" "odt heading path"
tap_match "$(hit .text)" "night allowance of 25 percent" "odt fact: 25 percent night allowance"

# xlsx: sheet name, a row rendered with its header names
top "price full truck Hamburg to Munich" finance/price-list-2027.xlsx
tap_eq "$(hit .location.sheet)" "Road Freight" "xlsx sheet name"
tap_match "$(hit .text)" "Lane: Hamburg - Munich; Distance \(km\): 780; Full truckload \(EUR\): 1385; Part load per pallet \(EUR\): 96; Transit days: 2" \
    "xlsx row with header names"
top "weekly cold chain pallet storage rate" finance/price-list-2027.xlsx
tap_eq "$(hit .location.sheet)" "Warehousing" "xlsx second sheet"
# the cell is formatted 0.00 and shows 2.40 / 7.90 in Excel and LibreOffice
tap_match "$(hit .text)" "Price \(EUR\): 7\.90; Minimum per month \(EUR\): 400" \
    "xlsx number shown with its 0.00 format (7.90)"
top "laptop refresh wave for finance and HR start date" it/laptop-refresh-2027.xlsx
tap_eq "$(hit .location.sheet)" "Waves" "xlsx sheet of the laptop waves"
tap_match "$(hit .text)" "Wave: 1; Departments: Finance, HR, Management board; Devices: 48; Start: 1 February 2027" "xlsx row: wave 1"

# ods
top "September pick accuracy in Leipzig" finance/kpi-q3-2026.ods
tap_eq "$(hit .location.sheet)" "Q3 2026" "ods sheet name"
tap_match "$(hit .text)" "KPI: Pick accuracy Leipzig \(%\); July: 99.58; August: 99.64; September: 99.71; Target: 99.60" \
    "ods row with header names, 0.00 format kept"

# pptx: slide number, slide title, a slide table, speaker notes
top "how many scanners are live in the Hall D cold store" projects/scanner-rollout-status.pptx
tap_eq "$(hit .location.slide)" "2" "pptx slide number"
tap_match "$(hit .location.heading)" "^Slide 2: Rollout by hall" "pptx slide title"
tap_match "$(hit .text)" "Hall: Hall D \(cold store\); Scanners planned: 30; Live on 4 November: 18" "pptx slide table row"
top "amount Scanlogix credits us for the cradle power supplies" projects/scanner-rollout-status.pptx
tap_eq "$(hit .location.slide)" "3" "speaker notes keep their slide"
tap_eq "$(hit .location.heading)" "Slide 3: Budget and spend > Notes" "speaker notes heading"
tap_match "$(hit .text)" "credits EUR 11,400" "speaker notes text (only in the notes)"
top "strategy 2027 three priorities" management/strategy-2027.pptx
tap_eq "$(hit .location.slide)" "3" "pptx: priorities on slide 3"
tap_match "$(hit .text)" "Open a sales office in Poznan" "pptx bullet text"

# odp
top "runtime of the nightly route job after the changes" projects/route-optimisation-review.odp
tap_eq "$(hit .location.slide)" "4" "odp slide number"
tap_match "$(hit .location.heading)" "^Slide 4: Results" "odp slide title"
tap_match "$(hit .text)" "Measure: Runtime of the nightly job; Before: 41 minutes; After: 14 minutes" "odp table row"
top "TomTom licence cost per year" projects/route-optimisation-review.odp
tap_eq "$(hit .location.heading)" "Slide 5: Next steps > Notes" "odp speaker notes heading"
tap_match "$(hit .text)" "about EUR 18,000 per year" "odp speaker notes text"

# e-mail with a DOCX attachment (child document mail.eml#file.docx)
top "discounted price per pallet for Elbtal Molkerei" "sales/2026-08-06-offer-elbtal-molkerei.eml#offer-BWF-2026-0815.docx"
tap_eq "$(status "sales/2026-08-06-offer-elbtal-molkerei.eml#offer-BWF-2026-0815.docx")" "indexed" "DOCX attachment indexed as a child"
tap_eq "$(hit .location.heading)" "Offer BWF-2026-0815: Cold chain warehousing > Capacity and prices" "attachment heading path"
tap_match "$(hit .text)" "Reserved pallet positions, 2-8 C; Quantity: 420; Price: EUR 7.60 per pallet per week" "attachment table row"

# ---- PDF, HTML, XML (parsers on branch pdfweb) ------------------------------------

indexed finance/quarterly-business-review-q3-2026.pdf policies/information-classification.pdf \
    it/service-catalogue.html operations/product-catalogue-export.xml \
    "mail/2026-11-05-fuel-contract-summary.eml#nordlicht-fuel-contract-summary.pdf"

# PDF: a sentence on page 3, a table on page 2, headings from font size
top "in which month did the Rotterdam depot break even" finance/quarterly-business-review-q3-2026.pdf
tap_eq "$(hit .location.page)" "3" "PDF page 3 sentence on page 3"
tap_eq "$(hit .location.page_end)" "3" "PDF page_end 3"
tap_eq "$(hit .location.heading)" "Quarterly Business Review Q3 2026 > Rotterdam depot" "PDF heading path"
tap_match "$(hit .text)" "break-even in its fourth month of operation" "PDF page 3 text"
top "revenue per segment cold chain" finance/quarterly-business-review-q3-2026.pdf
tap_eq "$(hit .location.page)" "2" "PDF table on page 2"
tap_match "$(hit .text)" "Segment: Cold chain; Q3 2025: 1.0; Q3 2026: 1.3; Change: \+30.0 %" "PDF table row with header names"
top "how many people were employed at 30 September" finance/quarterly-business-review-q3-2026.pdf
tap_eq "$(hit .location.page)" "4" "PDF page 4"
tap_match "$(hit .text)" "employed 634 people" "PDF page 4 text"
tap_eq "$(jq -r '.results[] | .text' "$TAP_TMP/hits.json" | grep -c 'Internal - Page')" "0" "running footer dropped"
top "who empties the shredder bins" policies/information-classification.pdf
tap_eq "$(hit .location.page)" "2" "second PDF: handling rules on page 2"
tap_match "$(hit .text)" "Aktenwolf GmbH" "second PDF: disposal company"
# a table whose cells wrap over several lines
top "who may see strictly confidential information" policies/information-classification.pdf
tap_match "$(hit .text)" "Class: Strictly confidential; Examples: merger plans, board decisions before announcement, encryption keys; Who may see it: named persons only, listed by the owner" \
    "PDF table row with wrapped cells"

# e-mail with a PDF attachment: child path mail.eml#file.pdf, with its page
top "diesel price cap per litre in the Nordlicht contract" "mail/2026-11-05-fuel-contract-summary.eml#nordlicht-fuel-contract-summary.pdf"
tap_match "$(hit .text)" "never pays more than 1.68 EUR per litre" "attachment text: price cap 1.68 EUR"
tap_eq "$(hit .location.page)" "1" "attachment page number"
tap_eq "$(hit .location.heading)" "Contract Summary: Fuel Supply Agreement > Prices" "attachment heading path"

# HTML: table row with header names; navigation and footer boilerplate dropped
top "first response time for label printer problems" it/service-catalogue.html
tap_eq "$(hit .location.heading)" "IT Service Catalogue > Services" "HTML heading path"
tap_match "$(hit .text)" "Service: Label printing and scanners; Owner: Jonas Reuter; Support hours: Mon-Sat 5:00-23:00; First response target: 30 minutes" \
    "HTML table row with header names"
tap_eq "$("$KEEP" --data "$D" search --json "parking space booking canteen menu phone book" | jq '[.results[] | select(.path | endswith("service-catalogue.html"))] | length')" \
    "0" "HTML navigation not indexed"
tap_eq "$("$KEEP" --data "$D" search --json "Imprint Nora Hansen Sandtorkai" | jq '[.results[] | select(.path | endswith("service-catalogue.html"))] | length')" \
    "0" "HTML footer not indexed"
tap_eq "$("$KEEP" --data "$D" search --json "analytics intranetUser" | jq '.results | length')" "0" "HTML scripts not indexed"
tap_eq "$(jq -r --arg p "$S/it/service-catalogue.html" '.documents[] | select(.path == $p) | .title' "$TAP_TMP/docs.json")" \
    "IT Service Catalogue - Brightwater Intranet" "HTML title"

# XML: one record, its container as heading, leaf elements as name: value
top "how often is the cold store temperature logged" operations/product-catalogue-export.xml
tap_match "$(hit .location.heading)" "ColdChain pallet storage 2-8 C$" "XML record heading"
tap_match "$(hit .text)" "logged every 5 minutes" "XML record text"
tap_match "$(hit .text)" "certification: GDP \(EU Good Distribution Practice\) certified since 14 March 2025" "XML leaf element as name: value"

tap_done
