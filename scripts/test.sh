#!/usr/bin/env bash
# Builds and runs every test: the release build (unit, integration, browser, demo end-to-end, the
# Python package's pytest files as CTest tests,
# install/consumer tests), then ASan+UBSan, then TSan over the concurrent core, then clang-tidy
# over src/core and the public headers.
# The sanitizer trees build at -Og -g1 (line tables are enough for reports): the same checks as at
# ASan's usual -O1, in 60 % of its compile time. Usage: scripts/test.sh   (installs what is missing first; safe to re-run)
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${CODEPROF_JOBS:-$(nproc)}

started=$SECONDS
phase_times=()
# Wall time of each phase, printed in the summary: the whole command must stay under 15 minutes on
# a fresh 2-core machine, and this says where the time goes.
mark() { phase_times+=("$1 $(( SECONDS - ${2} ))s"); }

t0=$SECONDS
bash scripts/setup.sh --with-torch --with-browser || exit 1
mark setup "$t0"

passed=0
failed=0
status=0
run_preset() {
  local preset=$1
  echo "=== [$preset] configure + build"
  local t0=$SECONDS
  if ! cmake --preset "$preset" >"build/$preset.log" 2>&1; then
    cat "build/$preset.log"; echo "=== [$preset] configure FAILED"; status=1; failed=$((failed + 1)); return
  fi
  if ! cmake --build --preset "$preset" -j "$jobs" >>"build/$preset.log" 2>&1; then
    grep -E "error|Error|FAILED" "build/$preset.log" | head -60; echo "=== [$preset] build FAILED"
    status=1; failed=$((failed + 1)); return
  fi
  mark "$preset-build" "$t0"
  echo "=== [$preset] test"
  t0=$SECONDS
  local log="build/$preset/ctest.log"
  ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  mark "$preset-test" "$t0"
  [[ $rc -eq 0 ]] || status=1
  # "100% tests passed, 0 tests failed out of 57"
  local line
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -1)
  if [[ -n "$line" ]]; then
    local total fail
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    fail=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + total - fail))
    failed=$((failed + fail))
  elif [[ $rc -ne 0 ]]; then
    failed=$((failed + 1))
  fi
}

mkdir -p build
run_preset release
run_preset asan
run_preset tsan

# clang-tidy over the documented subset (scripts/tidy.sh: src/core and the public headers).
echo "=== [tidy] scripts/tidy.sh"
t0=$SECONDS
if bash scripts/tidy.sh; then passed=$((passed + 1)); else status=1; failed=$((failed + 1)); fi
mark tidy "$t0"

echo
echo "=== summary (release + asan + tsan + tidy)"
echo "time: ${phase_times[*]}; total $(( SECONDS - started ))s"
echo "tests: $passed passed, $failed failed"
exit $status
