#!/usr/bin/env bash
# Overhead of line-level sampling at 999 Hz, side by side in one run: the same CPU-bound work with
# no profiler, with a profiler (sampling off), with codeprof's sampler at 999 Hz (only the threads
# that run scopes armed, every thread armed, and with the timer mechanism), with no
# profiler under `perf record -F 999 -g` (Debian linux-perf) as the peer, and with no profiler but
# one kernel path armed (bench/kernel_sampling_paths.hpp): the cpu-clock timer alone, perf's
# signal-free ring, and codeprof's signal with an empty handler. Process CPU time per
# unit of work (every thread, the sampler's own included), best of `rounds` alternating rounds.
# Usage: bench/sampling_overhead.sh [build dir] [seconds per round] [rounds]
set -euo pipefail
build=${1:-build/release}
seconds=${2:-3}
rounds=${3:-3}
bench="$build/bench/sampling_bench"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
best() { sort -g | head -1; }
for ((r = 1; r <= rounds; r++)); do
  for mode in none off on on_all on_timer timer_floor kernel_ring signal_only; do "$bench" run "$mode" "$seconds" | tee -a "$tmp/$mode"; done
  if command -v perf >/dev/null 2>&1; then
    perf record -q -F 999 -g -o "$tmp/perf.data" -- "$bench" run none "$seconds" 2>/dev/null | sed 's/^none/perf/' | tee -a "$tmp/perf" || true
  fi
done
none=$(awk '{print $2}' "$tmp/none" | best)
off=$(awk '{print $2}' "$tmp/off" | best)
on=$(awk '{print $2}' "$tmp/on" | best)
on_all=$(awk '{print $2}' "$tmp/on_all" | best)
on_timer=$(awk '{print $2}' "$tmp/on_timer" | best)
echo "best ms CPU per unit: none $none, sampling off $off, sampling on (999 Hz) $on"
awk -v a="$off" -v b="$on" 'BEGIN { printf "codeprof sampling at 999 Hz: %+.2f %% CPU against sampling off (target <= 3 %%)\n", (b / a - 1) * 100 }'
awk -v a="$off" -v b="$on_all" 'BEGIN { printf "  with every thread armed (sampling.all_threads): %+.2f %%\n", (b / a - 1) * 100 }'
awk -v a="$off" -v b="$on_timer" 'BEGIN { printf "  with sampling.mechanism = timer (CPU-clock timers fire at scheduler ticks: fewer distinct samples, each weighted): %+.2f %%\n", (b / a - 1) * 100 }'
against_none() {  # mode, what it is, what to say when it did not run
  if [[ -s "$tmp/$1" ]]; then
    local v
    v=$(awk '{print $2}' "$tmp/$1" | best)
    awk -v a="$none" -v b="$v" -v what="$2" 'BEGIN { printf "%s: %+.2f %%\n", what, (b / a - 1) * 100 }'
  else
    echo "$2: $3"
  fi
}
against_none timer_floor "the kernel's 999 Hz cpu-clock timer alone (no signal, no stack; paid by every such sampler)" "perf_event_open refused here"
against_none kernel_ring "the timer and the user stack written to a ring another thread drains (perf's design, no signal)" "perf_event_open refused here"
against_none signal_only "the timer and a signal to the thread with an empty handler (codeprof's design without its work)" "perf_event_open refused here"
against_none perf "perf record -F 999 -g, CPU of the profiled process against none (perf's own process not counted)" "did not run here"
