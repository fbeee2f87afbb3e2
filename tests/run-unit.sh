#!/bin/sh
# Run every unit-test binary given as an argument and add up their counts.
# Each binary ends with "NAME: N passed, M failed"; a crash or a missing line fails.
passed=0; failed=0; broken=""
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -v ' passed, 0 failed$' || true
  line=$(printf '%s\n' "$out" | tail -n 1)
  p=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
  f=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
  if [ -z "$p" ] || [ $rc -ne 0 -a "${f:-0}" = 0 ]; then
    broken="$broken $(basename "$t")(exit $rc)"; failed=$((failed + 1)); continue
  fi
  passed=$((passed + p)); failed=$((failed + f))
done
[ -n "$broken" ] && echo "unit: crashed or incomplete:$broken"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
