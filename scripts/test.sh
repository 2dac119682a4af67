#!/usr/bin/env bash
# Builds and runs every test: the release build (unit, integration, browser, demo end-to-end, the
# Python package's pytest files as CTest tests,
# install/consumer tests), then ASan+UBSan, then TSan over the concurrent core, then clang-tidy
# over src/core and the public headers.
# The sanitizer trees build at -O1 -g1 (ASan's recommended level; line tables are enough for reports):
# half the compile time of -O2 -g. Usage: scripts/test.sh   (installs what is missing first; safe to re-run)
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
# Configure + build one preset into build/<preset>; its log is build/<preset>.log.
build_preset() {
  local preset=$1
  if ! cmake --preset "$preset" >"build/$preset.log" 2>&1; then
    cat "build/$preset.log"; echo "=== [$preset] configure FAILED"; return 1
  fi
  if ! cmake --build --preset "$preset" -j "$jobs" >>"build/$preset.log" 2>&1; then
    grep -E "error|Error|FAILED" "build/$preset.log" | head -60; echo "=== [$preset] build FAILED"; return 1
  fi
}
built() {  # preset, start time, build_preset's exit status; counts a failed build
  if [[ $3 -eq 0 ]]; then mark "$1-build" "$2"; return 0; fi
  status=1; failed=$((failed + 1)); return 1
}
test_preset() {
  local preset=$1
  echo "=== [$preset] test"
  local t0=$SECONDS
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
# Runs a command at SCHED_IDLE: it gets a core only when nothing else wants one.
at_idle_priority() { chrt --idle -p 0 "$BASHPID" >/dev/null && "$@"; }

mkdir -p build
echo "=== [release] configure + build"
t0=$SECONDS
build_preset release
built release "$t0" $? && release_built=1 || release_built=0

# The release tests leave about one of the two cores idle (they wait on browsers, servers and
# child processes), so the ASan+UBSan tree builds and clang-tidy runs meanwhile, at SCHED_IDLE:
# the tests, some of them timed, keep the CPU whenever they want it.
echo "=== [asan] configure + build, and [tidy] scripts/tidy.sh: in the background at idle priority"
t_background=$SECONDS
(at_idle_priority build_preset asan >build/asan.out 2>&1; echo "$? $SECONDS" >build/asan.rc) &
asan_job=$!
(at_idle_priority bash scripts/tidy.sh >build/tidy.out 2>&1; echo "$? $SECONDS" >build/tidy.rc) &
tidy_job=$!

[[ $release_built -eq 1 ]] && test_preset release

wait "$asan_job"
cat build/asan.out
read -r asan_rc asan_end <build/asan.rc
if [[ $asan_rc -eq 0 ]]; then
  phase_times+=("asan-build(background) $((asan_end - t_background))s")
  test_preset asan
else
  status=1; failed=$((failed + 1))
fi

echo "=== [tsan] configure + build"
t0=$SECONDS
build_preset tsan
built tsan "$t0" $? && test_preset tsan

# clang-tidy over the documented subset (scripts/tidy.sh: src/core and the public headers).
wait "$tidy_job"
echo "=== [tidy] scripts/tidy.sh"
cat build/tidy.out
read -r tidy_rc tidy_end <build/tidy.rc
phase_times+=("tidy(background) $((tidy_end - t_background))s")
if [[ $tidy_rc -eq 0 ]]; then passed=$((passed + 1)); else status=1; failed=$((failed + 1)); fi

echo
echo "=== summary (release + asan + tsan + tidy)"
echo "time: ${phase_times[*]}; total $(( SECONDS - started ))s"
echo "tests: $passed passed, $failed failed"
exit $status
