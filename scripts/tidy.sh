#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over the code every instrumented program compiles or links:
# src/core's sources, each on its own, and the public headers under include/codeprof, all in one
# unit that includes each of them (C++20, include/ and src/ on the path, Debian's system headers;
# the headers see only the standard library, as users include them). One unit for the headers
# instead of one each: 4 s of CPU instead of 48 s; that each header compiles on its own is checked
# by g++ -fsyntax-only, header by header. That subset is kept clean; exit 1 on any finding, 2 when
# clang-tidy is missing. Flags are given here, not read from build/release/compile_commands.json:
# with unity builds that database lists the batches (unity_N_cxx.cxx), not the sources.
# Other files can be checked by naming them: scripts/tidy.sh src/io/csv_writer.cpp
# Usage: scripts/tidy.sh [FILE...]      (CODEPROF_JOBS: parallel runs, default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${CODEPROF_JOBS:-$(nproc)}
command -v clang-tidy >/dev/null 2>&1 || { echo "tidy.sh: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2; exit 2; }

started=$SECONDS
status=0
mapfile -t headers < <(find include/codeprof -name '*.hpp' | sort)
if (($#)); then
  files=("$@")
else
  # Every public header compiles on its own (what users include first may be any of them).
  printf '%s\n' "${headers[@]}" |
    xargs -P "$jobs" -I{} g++ -std=c++20 -fsyntax-only -Wall -Wextra -Werror -Iinclude -include {} -xc++ /dev/null || status=1
  # One unit that includes every public header, for clang-tidy.
  all_headers=build/tidy/public_headers.cpp
  mkdir -p "$(dirname "$all_headers")"
  printf '#include "%s"\n' "${headers[@]#include/}" >"$all_headers"
  files=("$all_headers" src/core/*.cpp)
fi

# Findings are reported for the file itself and: for a source, the src/core headers it includes;
# for a header, that header; for the unit of all public headers, those headers. Include paths are
# absolute: the header filter matches the paths clang reports, which follow the -I given.
tidy_one() {
  local f=$1 filter
  case "$f" in
    */public_headers.cpp) filter="^$PWD/include/codeprof/" ;;
    *.hpp | *.h) filter="^$PWD/$f\$" ;;
    *) filter="^$PWD/src/core/" ;;
  esac
  clang-tidy --quiet --header-filter="$filter" "$f" -- -xc++ -std=c++20 -I"$PWD/include" -I"$PWD/src"
}
export -f tidy_one

printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} bash -c 'tidy_one "$1" 2>&1 | grep -v -E "^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$"; exit "${PIPESTATUS[0]}"' _ {} ||
  status=1
echo "tidy: ${#files[@]} units (${#headers[@]} public headers in one), $((SECONDS - started)) s, $([[ $status -eq 0 ]] && echo clean || echo FINDINGS)"
exit $status
