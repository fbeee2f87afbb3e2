#!/bin/sh
# Run every unit-test binary given as an argument and add up their counts.
# Each binary ends with "NAME: N passed, M failed"; a crash or a missing line fails.
# The full output of a binary is shown only when it failed.
passed=0; failed=0; broken=""
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | tail -n 1)
  p=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
  f=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
  if [ -z "$p" ] || [ $rc -ne 0 ] || [ "$f" != 0 ]; then
    printf '%s\n' "$out"
  else
    printf '%s\n' "$line"
  fi
  if [ -z "$p" ] || [ $rc -ne 0 -a "${f:-0}" = 0 ]; then
    broken="$broken $(basename "$t")(exit $rc)"; failed=$((failed + 1)); continue
  fi
  passed=$((passed + p)); failed=$((failed + f))
done
[ -n "$broken" ] && echo "unit: crashed or incomplete:$broken"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
