#!/bin/sh
# run-units.sh - run each cmocka binary, keep going, and sum the results so
# CI sees one closing "N passed, M failed" line for the unit suite.
# PM_TEST_CASE (make check CASE=...): only the tests whose names match that
# glob run, by cmocka's own filter, set by PM_CASE_FILTER (case_filter.so).
passed=0 failed=0 skipped=0
for t in "$@"; do
    if [ -n "${PM_TEST_CASE:-}" ]; then
        [ -n "${PM_CASE_FILTER:-}" ] || { echo "unit: PM_TEST_CASE needs PM_CASE_FILTER (the runner sets it)"; exit 1; }
        out=$(LD_PRELOAD="$PM_CASE_FILTER${LD_PRELOAD:+ $LD_PRELOAD}" "$t" 2>&1); rc=$?
    else
        out=$("$t" 2>&1); rc=$?
    fi
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
