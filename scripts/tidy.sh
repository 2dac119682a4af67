#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) over the code every instrumented program compiles or links:
# src/core's sources, with their flags from the release tree's compile_commands.json, and each
# public header under include/codeprof on its own (C++20, standard library only, as users include
# them). That subset is kept clean; exit 1 on any finding, 2 when the tool or the build tree is
# missing. Other files can be checked by naming them: scripts/tidy.sh src/io/csv_writer.cpp
# Usage: scripts/tidy.sh [FILE...]      (needs clang-tidy and `cmake --preset release` run once)
set -euo pipefail
cd "$(dirname "$0")/.."
db=build/release
jobs=${CODEPROF_JOBS:-$(nproc)}
command -v clang-tidy >/dev/null 2>&1 || { echo "tidy.sh: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2; exit 2; }
[[ -f $db/compile_commands.json ]] ||
  { echo "tidy.sh: $db/compile_commands.json not found: run 'cmake --preset release' first" >&2; exit 2; }

if (($#)); then
  files=("$@")
else
  files=(src/core/*.cpp)
  while IFS= read -r h; do files+=("$h"); done < <(find include/codeprof -name '*.hpp' | sort)
fi

# One file: a source through the compilation database (its own src/core headers included), a
# header alone. Each header is checked once, in its own run, so findings are not repeated.
tidy_one() {
  local f=$1
  case "$f" in
    *.hpp | *.h)
      clang-tidy --quiet --header-filter="^$PWD/$f\$" "$f" -- -xc++ -std=c++20 -Iinclude -Isrc ;;
    *)
      clang-tidy --quiet -p "$db" --header-filter="^$PWD/src/core/" "$f" ;;
  esac
}
export -f tidy_one
export db

started=$SECONDS
status=0
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} bash -c 'tidy_one "$1" 2>&1 | grep -v -E "^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$" || true; exit "${PIPESTATUS[0]}"' _ {} ||
  status=1
echo "tidy: ${#files[@]} files, $((SECONDS - started)) s, $([[ $status -eq 0 ]] && echo clean || echo FINDINGS)"
exit $status
