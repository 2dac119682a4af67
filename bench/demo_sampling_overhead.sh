#!/usr/bin/env bash
# Overhead of line-level sampling at 999 Hz on the demo pipeline (examples/seo_pipeline: libtorch
# training and scoring, loader threads, about 12 threads that run scopes), side by side in one run:
# the demo with sampling off, with sampling on (the default perf_ring), and with sampling off under
# `perf record -F 999 -g` (Debian linux-perf) as the peer. Rounds alternate the modes so a slow
# spell of the machine hits them alike; each prints the demo process's CPU time (every thread, the
# profiler's included; perf's own process not counted) and wall time, then the medians.
# Usage: bench/demo_sampling_overhead.sh [build dir] [rounds] [extra demo flags...]
# (DEMO_DATA=dir reuses a corpus generated there; by default one is generated in a temporary dir.)
set -euo pipefail
build=${1:-build/release}
rounds=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
demo="$build/examples/seo_pipeline"
[[ -x "$demo" ]] || { echo "demo_sampling_overhead.sh: $demo not built (cmake --build --preset release --target seo_pipeline)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=${DEMO_DATA:-$tmp/data}
"$demo" --generate-only --data-dir "$data" "$@" >/dev/null
# The demo's CPU time as its parent shell's `times` reports its children: user and system seconds.
run() {  # mode, then the command's prefix (empty, or perf record ...)
  local mode=$1 enabled=$2
  shift 2
  local t0 t1
  t0=$(date +%s.%N)
  CODEPROF_SAMPLING_ENABLED=$enabled "$@" bash -c '"$@" >/dev/null 2>&1; times' _ \
    "$demo" --no-progress --data-dir "$data" -o "$tmp/out" "${DEMO_FLAGS[@]}" >"$tmp/times" 2>/dev/null
  t1=$(date +%s.%N)
  local cpu
  cpu=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$tmp/times")
  echo "$mode cpu_s $cpu wall_s $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" | tee -a "$tmp/$mode"
}
DEMO_FLAGS=("$@")
have_perf=0  # perf installed and allowed to record here
if command -v perf >/dev/null 2>&1 && perf record -q -o "$tmp/probe.data" -- true >/dev/null 2>&1; then have_perf=1; fi
for ((r = 1; r <= rounds; r++)); do
  run off 0
  run on 1
  if ((have_perf)); then run perf 0 perf record -q -F 999 -g -o "$tmp/perf.data" --; fi
done
median() { sort -g | awk '{v[NR] = $1} END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column() { [[ -s "$tmp/$1" ]] && awk -v c="$2" '{print $c}' "$tmp/$1" | median; }
off=$(column off 3)
on=$(column on 3)
echo "median over $rounds rounds: demo CPU s: sampling off $off, sampling on (999 Hz) $on; wall s: off $(column off 5), on $(column on 5)"
awk -v a="$off" -v b="$on" 'BEGIN { d = (b / a - 1) * 100;
  printf "codeprof sampling at 999 Hz on the demo: %+.2f %% CPU against sampling off (target <= 3 %%: %s)\n", d, d <= 3 ? "met" : "not met here" }'
if [[ -s "$tmp/perf" ]]; then
  awk -v a="$off" -v b="$(column perf 3)" 'BEGIN { printf "perf record -F 999 -g on the demo with sampling off: %+.2f %% CPU of the demo process\n", (b / a - 1) * 100 }'
fi
