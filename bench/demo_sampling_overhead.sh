#!/usr/bin/env bash
# Overhead of line-level sampling at 999 Hz on the demo pipeline (examples/seo_pipeline: libtorch
# training and scoring, loader threads, about 12 threads that run scopes): the demo with sampling
# on (the default perf_ring) against the demo with sampling off, and the demo under
# `perf record -F 999 -g` (Debian linux-perf) and under `perf record -F 999 --call-graph
# dwarf,8192` (the kernel copies the same 8 KiB of stack per sample as codeprof's default) against
# sampling off as the peers. perf writes the samples to a file and symbolises later, in
# `perf report`, outside the run; codeprof unwinds and symbolises in the process, as it runs.
#
# Two things make single runs of the demo useless for a few per cent:
# - the demo adapts: it picks bf16 or fp32 by timing both, stops early on validation loss and sizes
#   its loader by the cores. Every run here gets the same work: --patience 1000 (all epochs),
#   --workers 1, and --precision bf16 where the CPU has bf16 instructions (avx512_bf16, where the
#   demo's own timing picks it), else fp32.
# - on a shared virtual machine the host's load moves a run's CPU time by ±10 % from one minute to
#   the next. So the two demos of a pair run at the same time, each pinned to its own CPU (which
#   CPU and which starts first alternate), and the result is the median, over each two rounds that
#   swap the CPUs, of the two pairs' ratios' geometric mean (see swapped below). Pinned, all of a
#   demo's threads share one CPU: more context switches than unpinned, which makes per-switch
#   costs count more, not less. `perf record` runs pinned with the demo it records. An A/A pair
#   (off against off) measured within +1 to +3 %: differences below that are not resolved.
# With one CPU the pairs run one after the other. CPU time is the demo process's (every thread,
# codeprof's sampler included) plus, for the peer, perf record's own process.
# Usage: bench/demo_sampling_overhead.sh [build dir] [rounds] [extra demo flags...]
# (DEMO_DATA=dir reuses a corpus generated there; by default one is generated in a temporary dir.)
set -euo pipefail
build=${1:-build/release}
rounds=${2:-6}
shift $(( $# < 2 ? $# : 2 ))
demo="$build/examples/seo_pipeline"
[[ -x "$demo" ]] || { echo "demo_sampling_overhead.sh: $demo not built (cmake --build --preset release --target seo_pipeline)" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "demo_sampling_overhead.sh: rounds must be a positive integer, got '$rounds'" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
data=${DEMO_DATA:-$tmp/data}
"$demo" --generate-only --data-dir "$data" "$@" >/dev/null
precision=fp32
grep -qw avx512_bf16 /proc/cpuinfo && precision=bf16
demo_flags=(--no-progress --data-dir "$data" --precision "$precision" --patience 1000 --workers 1 "$@")
# The CPUs this script may run on (its affinity, not the machine's count): the first two pin a pair.
mapfile -t allowed < <(/usr/bin/python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")')
cpus=${#allowed[@]}
# One demo: its CPU seconds (user + system, as its parent shell's `times` reports its children),
# with the command prefix's own (perf record's process, which waits for the demo) counted too:
# codeprof's sampler runs inside the demo, so the peer's profiler counts as well.
# Arguments: output file, CPU to pin to (or -), CODEPROF_SAMPLING_ENABLED, then a command prefix.
# A demo that fails fails the script, with its output.
one() {
  local out=$1 cpu=$2 enabled=$3
  shift 3
  local pin=()
  [[ "$cpu" != - ]] && pin=(taskset -c "$cpu")
  if ! CODEPROF_SAMPLING_ENABLED=$enabled "${pin[@]}" bash -c '"$@" >"$0" 2>&1; s=$?; times; exit $s' "$tmp/log_$out" \
    "$@" "$demo" "${demo_flags[@]}" -o "$tmp/out_$out" >"$tmp/times_$out"; then
    echo "demo_sampling_overhead.sh: the demo failed (${*:-no prefix}, CODEPROF_SAMPLING_ENABLED=$enabled):" >&2
    tail -20 "$tmp/log_$out" >&2
    return 1
  fi
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$tmp/times_$out" >"$tmp/$out"
}
# A pair: sampling off and the mode under test, at the same time on two CPUs where there are two.
pair() {  # round, name, CODEPROF_SAMPLING_ENABLED of the second, its command prefix...
  local r=$1 name=$2 enabled=$3
  shift 3
  local a=${allowed[0]} b=${allowed[1]:-}
  ((r % 2)) && { a=${allowed[1]:-}; b=${allowed[0]}; }
  if ((cpus < 2)); then
    one base - 0
    one test - "$enabled" "$@"
  else
    local first second
    if (((r / 2) % 2)); then
      one test "$b" "$enabled" "$@" & first=$!
      one base "$a" 0 & second=$!
    else
      one base "$a" 0 & first=$!
      one test "$b" "$enabled" "$@" & second=$!
    fi
    local failed=0
    wait "$first" || failed=1
    wait "$second" || failed=1
    ((failed == 0)) || exit 1
  fi
  local base test
  base=$(<"$tmp/base") test=$(<"$tmp/test")
  echo "$name round $r: sampling off $base s CPU, $name $test s: $(awk -v a="$base" -v b="$test" 'BEGIN { printf "%+.2f %%", (b / a - 1) * 100 }')"
  awk -v a="$base" -v b="$test" 'BEGIN { print b / a }' >>"$tmp/ratios_$name"
  if [[ "$name" == codeprof ]]; then
    # codeprof's own part, read off its report: the sampler thread's CPU (unwinding, symbolising,
    # aggregating) as a share of the run's. What is left of the overhead is the kernel's sampling
    # and the threads' marks, the part perf record pays too.
    local report share
    report=$(ls -t "$tmp/out_test"/profiling_report_*.json | head -1)
    share=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sampling"]["sampler_cpu"] / float(sys.argv[2]))' "$report" "$test")
    echo "$share" >>"$tmp/sampler_share"
    rm -f "$tmp/out_test"/profiling_*
    awk -v s="$share" 'BEGIN { printf "  codeprof sampler thread: %.2f %% of that run'"'"'s CPU\n", s * 100 }'
  fi
}
have_perf=0  # perf installed and allowed to record here
if command -v perf >/dev/null 2>&1 && perf record -q -o "$tmp/probe.data" -- true >/dev/null 2>&1; then have_perf=1; fi
for ((r = 0; r < rounds; r++)); do
  pair "$r" codeprof 1
  if ((have_perf)); then
    pair "$r" perf 0 perf record -q -F 999 -g -o "$tmp/perf.data" --
    # The same design as codeprof's: the user stack's top 8 KiB copied with each sample.
    pair "$r" perf_dwarf 0 perf record -q -F 999 --call-graph dwarf,8192 -o "$tmp/perf.data" --
  fi
done
median() { sort -g | awk '{v[NR] = $1} END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Rounds 2k and 2k+1 run the same pair with the CPUs swapped. Their ratios' geometric mean cancels a
# speed difference between the two CPUs (the host's other tenants can make one CPU 15 % slower than
# the other for minutes: one run here read +3 and +34 %, -5 and +20 % for the perf peer, round after
# round), which a median of single pairs does not. An odd last round is left out (one round alone is
# all there is).
swapped() { awk '{ v[NR] = $1 } END { for (i = 1; i + 1 <= NR; i += 2) print sqrt(v[i] * v[i + 1]); if (NR == 1) print v[1] }'; }
summary() {  # name, what it is
  local m lo hi n
  swapped <"$tmp/ratios_$1" >"$tmp/swapped_$1"
  m=$(median <"$tmp/swapped_$1") lo=$(sort -g "$tmp/swapped_$1" | head -1) hi=$(sort -g "$tmp/swapped_$1" | tail -1)
  n=$(wc -l <"$tmp/swapped_$1")
  awk -v m="$m" -v lo="$lo" -v hi="$hi" -v what="$2" -v n="$n" -v rounds="$rounds" \
    'BEGIN { printf "%s: %+.2f %% CPU against sampling off (median of %d CPU-swapped pairs of the %d rounds; %+.2f to %+.2f %%)\n", what, (m - 1) * 100, n, rounds, (lo - 1) * 100, (hi - 1) * 100 }'
}
echo "demo: --precision $precision --patience 1000 --workers 1; pairs $( ((cpus < 2)) && echo 'one after the other (one CPU)' || echo 'at the same time, one CPU each')"
summary codeprof "codeprof sampling at 999 Hz on the demo"
awk -v m="$(median <"$tmp/sampler_share")" -v lo="$(sort -g "$tmp/sampler_share" | head -1)" -v hi="$(sort -g "$tmp/sampler_share" | tail -1)" \
  -v n="$(wc -l <"$tmp/sampler_share")" \
  'BEGIN { printf "  of which codeprof'"'"'s sampler thread (sampling.sampler_cpu of each report): median %.2f %% of the run'"'"'s CPU (%.2f to %.2f %%, %d runs)\n", m * 100, lo * 100, hi * 100, n }'
if ((have_perf)); then
  summary perf "perf record -F 999 -g on the demo (sampling off; perf's own CPU counted)"
  summary perf_dwarf "perf record -F 999 --call-graph dwarf,8192 (sampling off; perf's own CPU counted)"
fi
