#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over the code every instrumented program compiles or links:
# src/core's sources and each public header under include/codeprof, each file on its own (C++20,
# include/ and src/ on the path, Debian's system headers; the headers see only the standard library,
# as users include them). That subset is kept clean; exit 1 on any finding, 2 when clang-tidy is
# missing. Flags are given here, not read from build/release/compile_commands.json: with unity
# builds that database lists the batches (unity_N_cxx.cxx), not the sources.
# Other files can be checked by naming them: scripts/tidy.sh src/io/csv_writer.cpp
# Usage: scripts/tidy.sh [FILE...]      (CODEPROF_JOBS: parallel runs, default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${CODEPROF_JOBS:-$(nproc)}
command -v clang-tidy >/dev/null 2>&1 || { echo "tidy.sh: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2; exit 2; }

if (($#)); then
  files=("$@")
else
  files=(src/core/*.cpp)
  while IFS= read -r h; do files+=("$h"); done < <(find include/codeprof -name '*.hpp' | sort)
fi

# Findings are reported for the file itself and, for a source, the src/core headers it includes;
# each public header has its own run, so its findings are not repeated once per includer.
tidy_one() {
  local f=$1 filter
  case "$f" in
    *.hpp | *.h) filter="^$PWD/$f\$" ;;
    *) filter="^$PWD/src/core/" ;;
  esac
  clang-tidy --quiet --header-filter="$filter" "$f" -- -xc++ -std=c++20 -Iinclude -Isrc
}
export -f tidy_one

started=$SECONDS
status=0
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} bash -c 'tidy_one "$1" 2>&1 | grep -v -E "^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$"; exit "${PIPESTATUS[0]}"' _ {} ||
  status=1
echo "tidy: ${#files[@]} files, $((SECONDS - started)) s, $([[ $status -eq 0 ]] && echo clean || echo FINDINGS)"
exit $status
