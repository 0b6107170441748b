#!/bin/sh
# embed-py.sh - one of pkgroot's Python files as C (the Makefile's rule for
# pkgroot-tools/py/*.py): a pk_pysrc (pkgroot-tools/pysrc.h) named SYMBOL
# holding the file's name and its bytes, NUL-terminated.  Only od and sed,
# which every Debian machine has (no xxd).
#   sh scripts/embed-py.sh pkgroot-tools/py/pyinfo.py pk_py_pyinfo > pyinfo.c
set -eu
[ $# = 2 ] || { echo "usage: embed-py.sh FILE.py SYMBOL" >&2; exit 2; }
file=$1 sym=$2
# Read it whole first: a file od cannot read must stop the build, not make
# an empty program (a pipeline's status is its last command's).
hex=$(od -An -v -tx1 "$file")
# A NUL would end the text early: refuse it rather than cut the file.
case $hex in *" 00"*) echo "embed-py.sh: $file: a NUL byte" >&2; exit 1 ;; esac
printf '/* Generated from %s by scripts/embed-py.sh: edit the .py, not this. */\n' "$file"
printf '#include "pysrc.h"\n\nstatic const unsigned char text[] = {\n'
printf '%s\n' "$hex" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
printf '0x00};\n\nconst pk_pysrc %s = {"%s", (const char *)text};\n' "$sym" "$file"
