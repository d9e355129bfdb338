#!/usr/bin/env bash
# The whole test suite: a warnings-as-errors build with every test, a 5-minute soak of a real
# jobsd (bench/soak), the tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and
# the fuzz targets' smoke runs (clang).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test

jobs=$(nproc)
run_suite() { # build-dir, ctest arguments...
  local dir=$1
  shift
  cmake --build "$dir" -j "$jobs" ${targets:+--target $targets}
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@"
}

echo "== release build (warnings are errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBS_WERROR=ON -DJOBS_TESTS=ON \
  -DJOBS_BENCH=ON >/dev/null
run_suite build

echo "== soak: 5 minutes of 2,000 jobs under SIGKILLs, edits, cancels and triggers"
bench/soak --minutes 5

echo "== ASan + UBSan build"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJOBS_WERROR=ON -DJOBS_SANITIZE=ON -DJOBS_TESTS=ON \
  -DJOBS_BENCH=OFF >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_suite build-asan -L unit

echo "== fuzz smoke (clang, libFuzzer)"
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBS_FUZZ=ON -DJOBS_TESTS=ON \
  -DJOBS_BENCH=OFF >/dev/null
targets="fuzz_cron_parse fuzz_job_doc fuzz_job_load fuzz_migrate fuzz_protocol fuzz_api" run_suite build-fuzz -L fuzz
