#!/bin/bash
# test_env_docs.sh - the environment variables are written once
# (docs/environment.tsv): README's table and the man pages' ENVIRONMENT
# sections are what scripts/gen-env-docs.sh makes of it, a hand edit of
# either is caught by --check, and every variable the code reads or sets
# is in the list (and every row names a variable the code uses).
set -u
. "$(dirname "$0")/../lib.sh"
GEN=$REPO/scripts/gen-env-docs.sh
TMP=$(mktemp -d /tmp/pympi-envdocs.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

out=$(sh "$GEN" --check 2>&1); rc=$?
[ $rc = 0 ] && [ -z "$out" ] && t_ok "README and man pages are up to date with docs/environment.tsv" ||
    t_fail "gen-env-docs --check on the repository (rc $rc)" "$out"

# A copy of what the script reads and writes, to edit by hand.
copy() {
    rm -rf "$TMP/r"; mkdir -p "$TMP/r/docs/man"
    cp "$REPO/README.md" "$TMP/r/" && cp "$REPO/docs/environment.tsv" "$TMP/r/docs/" &&
        cp "$REPO"/docs/man/*.1 "$TMP/r/docs/man/"
}
# check_fails NAME FILE: --check on the copy exits 1 with one line naming FILE.
check_fails() {
    out=$(sh "$GEN" --check "$TMP/r" 2>&1); rc=$?
    [ $rc = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && printf '%s' "$out" | grep -qF "$2" &&
        t_ok "$1" || t_fail "$1 (rc $rc)" "$out"
}

copy
sed -i 's/^| `PYTHON_MPI_CHUNK` | `4M` |/| `PYTHON_MPI_CHUNK` | `8M` |/' "$TMP/r/README.md"
if cmp -s "$REPO/README.md" "$TMP/r/README.md"; then
    t_fail "the README's PYTHON_MPI_CHUNK row was not found to edit"
else
    check_fails "a hand edit of README's table is caught by --check" README.md
    sh "$GEN" "$TMP/r" && cmp -s "$REPO/README.md" "$TMP/r/README.md" &&
        t_ok "regenerating puts README's table back" || t_fail "regenerating README"
fi

copy
sed -i '/env:begin/,/env:end/s/^Default: \\fB4M\\fR\.$/Default: \\fB8M\\fR./' "$TMP/r/docs/man/bcast.1"
cmp -s "$REPO/docs/man/bcast.1" "$TMP/r/docs/man/bcast.1" && t_fail "bcast.1's PYTHON_MPI_CHUNK default not found" ||
    check_fails "a hand edit of bcast.1's ENVIRONMENT is caught by --check" docs/man/bcast.1

copy
echo "# a note after the markers" >> "$TMP/r/README.md"
out=$(sh "$GEN" --check "$TMP/r" 2>&1) && t_ok "text outside the markers is not the generator's" ||
    t_fail "--check after an edit outside the markers" "$out"

copy
sed -i 's/^\(PYTHON_MPI_CHUNK\t[^\t]*\t[^\t]*\t\)The broadcast chunk size/\1The size of each broadcast chunk/' "$TMP/r/docs/environment.tsv"
check_fails "a list changed without regenerating is caught (README)" README.md
out=$(sh "$GEN" --check "$TMP/r" 2>&1); printf '%s' "$out" | grep -qF docs/man/python-mpi.1 &&
    printf '%s' "$out" | grep -qF docs/man/bcast.1 && ! printf '%s' "$out" | grep -qF pkgroot.1 &&
    t_ok "... and names exactly the man pages whose programs use the variable" || t_fail "pages named" "$out"

copy
sed -i '/env:end/d' "$TMP/r/docs/man/pkgroot.1"
out=$(sh "$GEN" --check "$TMP/r" 2>&1); rc=$?
[ $rc = 2 ] && printf '%s' "$out" | grep -q 'pkgroot.1: no env:begin/env:end markers' &&
    t_ok "a page without its markers is an error" || t_fail "missing markers (rc $rc)" "$out"
copy
printf 'PYTHON_MPI_BROKEN\tno tab after this\n' >> "$TMP/r/docs/environment.tsv"
out=$(sh "$GEN" "$TMP/r" 2>&1); rc=$?
[ $rc = 2 ] && printf '%s' "$out" | grep -q 'not 4 tab-separated fields' && cmp -s "$REPO/README.md" "$TMP/r/README.md" &&
    t_ok "a row without four fields is refused, nothing written" || t_fail "bad row (rc $rc)" "$out"

# Every variable the code reads or sets is listed; every listed one is used.
listed=$(awk -F'\t' '!/^#/ && NF == 4 && $1 != "name" { n = split($1, a, /, */); for (i = 1; i <= n; i++) print a[i] }' \
    "$REPO/docs/environment.tsv" | sort -u)
code_dirs="$REPO/bcast $REPO/interp $REPO/python-mpi.c $REPO/pkgroot-tools $REPO/scripts"
used=$( { grep -rhoE '(getenv|nonempty|pm_trust_env_dir|asks_for_handlers|setenv|unsetenv)\("[A-Za-z_][A-Za-z0-9_]*"' \
              --include='*.c' --include='*.h' $code_dirs | sed 's/.*("//; s/"$//'
          grep -rhoE 'PYTHON_MPI_[A-Z_]*[A-Z]' $code_dirs; } | sort -u)
# The launcher's own variables: part of PYTHON_MPI_PARENT's identity, not settings.
exempt="PMI_FD"
missing=
for v in $used; do
    case " $exempt " in *" $v "*) continue ;; esac
    printf '%s\n' "$listed" | grep -qx "$v" || missing="$missing $v"
done
[ -z "$missing" ] && t_ok "every variable the code reads or sets is in docs/environment.tsv ($(echo $used | wc -w) found)" ||
    t_fail "not in docs/environment.tsv:$missing"
unused=
for v in $listed; do
    grep -rqw -- "$v" $code_dirs || unused="$unused $v"
done
[ -z "$unused" ] && t_ok "every variable in docs/environment.tsv is used by the code" ||
    t_fail "listed but not in the code:$unused"

grep -q 'docs/environment.tsv' "$(find "$REPO/bcast" -name settings.h | head -n 1)" &&
    ! grep -q 'PYTHON_MPI_CHUNK' "$(find "$REPO/bcast" -name settings.h | head -n 1)" &&
    t_ok "settings.h points to docs/environment.tsv instead of its own list" || t_fail "settings.h's comment"
t_done env_docs
