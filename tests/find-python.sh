#!/bin/sh
# find-python.sh - pyenv's CPython builds, found without pyenv on PATH.
#
#   find-python.sh X.Y     the interpreter of the newest X.Y.N: prints
#                          ROOT/versions/X.Y.N/bin/pythonX.Y, or exits 1
#   find-python.sh --all   every X.Y there is, newest patch each: "X.Y PATH"
#                          per line, oldest first
#
# ROOT is pyenv's root: $PYENV_ROOT, else `pyenv root` if pyenv is on PATH,
# else ~/.pyenv (the first that has a versions/ directory).  Only plain
# CPython versions count (3.12.1; not 3.13.0t, 3.12-dev, pypy3.10-...).
set -u

root=
for r in "${PYENV_ROOT-}" "$(command -v pyenv >/dev/null 2>&1 && pyenv root 2>/dev/null)" "${HOME-}/.pyenv"; do
    if [ -n "$r" ] && [ -d "$r/versions" ]; then root=$r; break; fi
done
[ -n "$root" ] || exit 1

# "X.Y X.Y.N PATH" for every usable version, sorted by version.
list() {
    for d in "$root"/versions/*; do
        v=${d##*/}
        case $v in *[!0-9.]*|.*|*.) continue ;; esac
        xy=$(printf '%s\n' "$v" | sed -n 's/^\([0-9]*\.[0-9]*\)\.[0-9]*$/\1/p')
        [ -n "$xy" ] && [ -x "$d/bin/python$xy" ] && printf '%s %s %s\n' "$xy" "$v" "$d/bin/python$xy"
    done | sort -V -k2,2
}

case ${1-} in
    --all)
        # the last line of each X.Y is its newest patch
        list | awk '{last[$1] = $3; if (!($1 in seen)) {seen[$1] = 1; order[n++] = $1}}
                    END {for (i = 0; i < n; i++) print order[i], last[order[i]]}' ;;
    [0-9]*.[0-9]*)
        p=$(list | awk -v want="$1" '$1 == want {p = $3} END {print p}')
        [ -n "$p" ] || exit 1
        printf '%s\n' "$p" ;;
    *)
        echo "usage: find-python.sh X.Y | --all" >&2
        exit 2 ;;
esac
