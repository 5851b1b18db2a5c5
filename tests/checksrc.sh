#!/bin/sh
# checksrc.sh — house rules a compiler does not enforce: no unsafe libc calls
# (strcpy, strcat, sprintf, vsprintf, gets, atoi, atol, strtok), every C file
# opens with a comment on its role, no exit()/abort() in library stages.
. "$KEEP_SRCDIR/tests/tap.sh"
cd "$KEEP_SRCDIR" || exit 1
files=$(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null || find common ingest index retrieve infer web cli tests -name '*.[ch]')

banned=$(grep -nE '(^|[^_a-zA-Z0-9.>])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)[[:space:]]*\(' $files | grep -v 'checksrc: allow')
tap_eq "$banned" "" "no banned libc calls (strcpy, strcat, sprintf, gets, atoi, strtok)"

lib=$(printf '%s\n' $files | grep -E '^(common|ingest|index|retrieve|infer|web)/')
aborts=$(grep -nE '(^|[^_a-zA-Z0-9])(exit|abort)[[:space:]]*\(' $lib | grep -v 'checksrc: allow')
tap_eq "$aborts" "" "library stages never exit() or abort()"

nohead=""
for f in $files; do
    first=$(grep -m1 -v '^[[:space:]]*$' "$f")
    case "$first" in
    "/*"* | "//"*) ;;
    *) nohead="$nohead $f" ;;
    esac
done
tap_eq "$nohead" "" "every source file opens with a comment on its role"

# every keep.conf key of common/config.c has its row in README.md's table
undocumented=""
for pair in $(grep -oE '(ST|IN|SZ|BO)\("[a-z]+", "[a-z_]+"' common/config.c | sed 's/^[A-Z]*(//' | tr -d '" ' | sort -u) \
    $(grep -oE 'strcmp\(section, "[a-z]+"\) == 0 && strcmp\(name, "[a-z_]+"' common/config.c |
        sed -E 's/strcmp\(section, "([a-z]+)"\) == 0 && strcmp\(name, "([a-z_]+)"/\1,\2/') folder,path folder,collection; do
    sec=${pair%%,*}
    key=${pair#*,}
    grep -q "^| \`\[$sec\]\` | \`$key\` |" README.md || undocumented="$undocumented [$sec] $key"
done
tap_eq "$undocumented" "" "every keep.conf key is documented in README.md"
tap_done
