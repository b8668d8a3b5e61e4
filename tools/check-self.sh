#!/bin/sh
# check-self.sh LIB OBJ...: the library never calls its own interposers. Fails when an object
# linked into LIB references by name a function LIB exports (nm -u), or when LIB itself holds a
# dynamic relocation against one of its own exported names (a call from one wrapper to another
# through the PLT, which nm -u of the objects cannot see).
set -eu
lib=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u >"$tmp/exports"
bad=0
for o in "$@"; do
    nm -u "$o" | awk '{print $2}' | sort -u | comm -12 - "$tmp/exports" >"$tmp/hit"
    if [ -s "$tmp/hit" ]; then
        echo "check-self: $o calls exported names: $(tr '\n' ' ' <"$tmp/hit")" >&2
        bad=1
    fi
done
readelf -rW "$lib" | awk '$3 ~ /^R_X86_64_(JUMP_SLOT|GLOB_DAT|64)$/ || $3 ~ /^R_AARCH64_(JUMP_SLOT|GLOB_DAT|ABS64)$/ {print $5}' |
    sed 's/@.*//' | sort -u | comm -12 - "$tmp/exports" >"$tmp/rel"
if [ -s "$tmp/rel" ]; then
    echo "check-self: $lib binds to its own exports: $(tr '\n' ' ' <"$tmp/rel")" >&2
    bad=1
fi
[ "$bad" = 0 ] && echo "check-self: $(wc -l <"$tmp/exports") exported names, none called from inside"
exit "$bad"
