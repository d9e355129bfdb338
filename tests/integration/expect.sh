# Sourced by the integration tests: `expect NAME EXPECTED ACTUAL` counts and prints one check;
# `finish` prints "N passed, N failed" and returns non-zero when a check failed.
failures=0
passes=0

expect() {
  if [ "$2" != "$3" ]; then
    echo "FAIL $1"
    echo "  expected: $2"
    echo "  actual:   $3"
    failures=$((failures + 1))
  else
    echo "ok   $1"
    passes=$((passes + 1))
  fi
}

finish() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}
