#!/bin/sh
# run-units.sh - run each cmocka binary, keep going, and sum the results so
# CI sees one closing "N passed, M failed" line for the unit suite.
passed=0 failed=0 skipped=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -n 1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ -z "$f" ]; then failed=$((failed + 1)); fi
done
# A skipped unit (cmocka's skip(): it cannot run here) is counted, never dropped.
if [ "$skipped" -gt 0 ]; then
    echo "unit: $passed passed, $failed failed, $skipped skipped"
else
    echo "unit: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
