#!/bin/sh
# gen-env-docs.sh - the environment variables, written once.
#
#   sh scripts/gen-env-docs.sh [--check] [ROOT]
#
# docs/environment.tsv is the one list (name, default, programs, meaning).
# This writes, from it, the table in README.md and the ENVIRONMENT section
# of each man page docs/man/PROGRAM.1 (the rows whose programs name
# PROGRAM), each between its marker lines ("env:begin" ... "env:end"),
# and leaves the rest of each file alone.  --check writes nothing: it
# exits 1 with one line naming the files that differ from what it would
# write (someone edited a table by hand, or the list without running
# this).  ROOT: the tree to work on (default: this script's repository).
set -eu

check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
tsv=$root/docs/environment.tsv
me=gen-env-docs

[ -r "$tsv" ] || { echo "$me: $tsv: cannot read" >&2; exit 2; }
# Every row has four fields: a missing tab would shift a column silently.
bad=$(awk -F'\t' '!/^#/ && NF && NF != 4 { print FNR; exit }' "$tsv")
[ -z "$bad" ] || { echo "$me: $tsv:$bad: not 4 tab-separated fields" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-env-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The generated block for FORMAT (md, or a program's name for its man page).
block() {
    awk -F'\t' -v fmt="$1" '
    function roff(s,   out, i, c, code) {
        gsub(/\\/, "\\e", s)
        # `code` -> bold; the rest as it is
        out = ""; code = 0
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "`") { out = out (code ? "\\fR" : "\\fB"); code = !code }
            else out = out c
        }
        if (out ~ /^[.\047]/) out = "\\&" out
        return out
    }
    function names(s, md,   n, a, i, out) {
        n = split(s, a, /, */); out = ""
        for (i = 1; i <= n; i++)
            out = out (i > 1 ? ", " : "") (md ? "`" a[i] "`" : "\\fB" a[i] "\\fR")
        return out
    }
    /^#/ || !NF { next }
    !header { header = 1; next }
    fmt == "md" {
        if (!rows++) { print "| variable | default | programs | meaning |"; print "|---|---|---|---|" }
        print "| " names($1, 1) " | " ($2 == "-" ? "—" : $2) " | " $3 " | " $4 " |"
        next
    }
    {
        n = split($3, p, /, */); mine = 0
        for (i = 1; i <= n; i++) if (p[i] == fmt) mine = 1
        if (!mine) next
        print ".TP"; print names($1, 0); print roff($4)
        if ($2 != "-") print "Default: " roff($2) "."
    }' "$tsv"
}

# Rewrite FILE's lines between the markers with the block for FORMAT, into
# $tmp/out.  Fails (1 line) if the markers are missing or out of order.
splice() {
    block "$2" > "$tmp/block"
    awk -v blockfile="$tmp/block" -v file="$1" -v me="$me" '
    /env:begin/ && !state { print; while ((getline l < blockfile) > 0) print l; state = 1; next }
    /env:end/ && state == 1 { state = 2 }
    state != 1 { print }
    END { if (state != 2) { print me ": " file ": no env:begin/env:end markers" > "/dev/stderr"; exit 1 } }
    ' "$1" > "$tmp/out"
}

differ=
for target in README.md:md docs/man/python-mpi.1:python-mpi docs/man/bcast.1:bcast docs/man/pkgroot.1:pkgroot; do
    file=$root/${target%%:*}
    splice "$file" "${target##*:}" || exit 2
    cmp -s "$tmp/out" "$file" && continue
    differ="$differ ${target%%:*}"
    if [ $check = 0 ]; then
        # A whole new file renamed into place: never a half-written page.
        cp "$tmp/out" "$file.gen-env.tmp" && mv "$file.gen-env.tmp" "$file"
    fi
done
if [ $check = 1 ] && [ -n "$differ" ]; then
    echo "$me: differs from docs/environment.tsv:$differ (edit the .tsv, then run sh scripts/gen-env-docs.sh)" >&2
    exit 1
fi
exit 0
