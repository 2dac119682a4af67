// Line-level sampling, measured:
//   sampling_bench run MODE [s]          MODE: none|off|on|on_all|on_signal|on_timer|timer_floor|
//                                       kernel_ring|signal_only
//                                       CPU-bound work in scopes: no profiler, a profiler with
//                                       sampling off, at 999 Hz (on: sampling.mechanism auto, i.e.
//                                       perf_ring; on_all: every thread armed, sampling.all_threads;
//                                       on_signal: perf_event; on_timer: timer); process CPU per
//                                       unit of work.
//                                       timer_floor, kernel_ring, signal_only: no profiler, one
//                                       way of taking samples from the kernel at 999 Hz
//                                       (kernel_sampling_paths.hpp)
//                                       (bench/sampling_overhead.sh alternates them and runs
//                                       `none` under `perf record -F 999 -g` as the peer)
//   sampling_bench switch_cost [round trips] [rounds]
//                                       microseconds per context switch that a 999 Hz cpu-clock
//                                       event adds, opened per thread (codeprof's design) and
//                                       inherited per CPU (perf record's) (context_switch_cost.hpp)
//   sampling_bench handoff [round trips] [rounds]
//                                       two threads that run scopes hand a byte back and forth on
//                                       one CPU (a loader and its consumer): their CPU per round
//                                       trip with sampling off, at 999 Hz with the threads started
//                                       before the sampler (an event each) and started after it
//                                       (inheriting its per-CPU events)
//   sampling_bench symbolize [count]    resolves `count` distinct code addresses of this process
//                                       (default 100,000): time and memory
// Prints one line per result; the script computes the ratios of one run.
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/profiler.hpp"
#include "context_switch_cost.hpp"
#include "kernel_sampling_paths.hpp"
#include "sampling/symbolizer.hpp"

namespace {

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
double process_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// CPU-bound: a hash chain, the same amount of work every call (seeded so calls cannot be merged).
[[gnu::noinline]] std::uint64_t work_unit(std::uint64_t seed, int steps = 2'000'000) {
  std::uint64_t x = 88172645463325252ull ^ seed;
  for (int i = 0; i < steps; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

bool sampling_on(const std::string& mode) {
  return mode == "on" || mode == "on_all" || mode == "on_signal" || mode == "on_timer";
}

// Process CPU seconds (every thread: the sampler's own thread included) per work unit, after a
// warm-up that pays the one-time costs (the symboliser loading debug information).
int run(const std::string& mode, double seconds) {
  const bool kernel_only = codeprof::bench::KernelSamplingPath::is_mode(mode);
  if (mode != "none" && mode != "off" && !sampling_on(mode) && !kernel_only) {
    std::fprintf(stderr,
                 "sampling_bench run: unknown mode '%s' (expected none, off, on, on_all, on_signal, on_timer, timer_floor, kernel_ring or "
                 "signal_only)\n",
                 mode.c_str());
    return 2;
  }
  std::unique_ptr<codeprof::Profiler> p;
  if (mode != "none" && !kernel_only) {
    codeprof::Config c;
    c.sampler_enabled = false;
    c.sampling.enabled = sampling_on(mode);  // 999 Hz
    if (mode == "on_timer") c.sampling_mechanism = "timer";  // else auto: perf_ring where allowed
    if (mode == "on_signal") c.sampling_mechanism = "perf_event";
    c.sampling.all_threads = mode == "on_all";  // every thread armed, the profiler's own included
    p = std::make_unique<codeprof::Profiler>(c);
  }
  std::unique_ptr<codeprof::bench::KernelSamplingPath> kernel;
  if (kernel_only) {
    kernel = std::make_unique<codeprof::bench::KernelSamplingPath>(mode);
    if (!kernel->ok()) return 0;  // nothing to compare: the script says so
  }
  std::uint64_t sink = 0, seed = 0;
  const auto unit = [&] {
    if (p) {
      auto scope = p->profile_operation("work_unit", codeprof::Category::Cpu);
      sink += work_unit(++seed);
    } else {
      sink += work_unit(++seed);
    }
  };
  for (const double warm_until = process_cpu_s() + 0.5; process_cpu_s() < warm_until;) unit();
  if (p) p->flush();
  int units = 0;
  const double t0 = process_cpu_s(), thread_t0 = thread_cpu_s();
  while (process_cpu_s() - t0 < seconds) {
    unit();
    ++units;
  }
  const double per_unit = (process_cpu_s() - t0) / units;
  // The sampled thread's share, and what the other threads (the sampler's, the collector) add.
  const double thread_per_unit = (thread_cpu_s() - thread_t0) / units;
  std::string extra;
  if (p && sampling_on(mode)) {
    const auto s = p->snapshot();
    for (const auto& src : s.sampling.sources)
      if (src.samples) extra = " (" + src.name + " at 999 Hz, " + std::to_string(src.samples) + " samples, " + std::to_string(src.dropped) + " dropped)";
  }
  if (kernel && mode == "kernel_ring") extra = " (" + std::to_string(kernel->samples()) + " samples drained)";
  std::printf("%s %.5f ms CPU per unit, %d units, %.5f ms of them on the working thread%s\n", mode.c_str(), per_unit * 1e3, units,
              thread_per_unit * 1e3, extra.c_str());
  std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(sink));  // keeps the work
  return 0;
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

int symbolize(std::size_t count) {
  // Executable code of this process: the r-xp mappings.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> text;
  std::uintptr_t total = 0;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream f(line);
    std::string range, perms;
    f >> range >> perms;
    if (perms != "r-xp" || line.find('/') == std::string::npos) continue;
    const auto dash = range.find('-');
    const auto lo = std::stoull(range.substr(0, dash), nullptr, 16), hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    text.emplace_back(lo, hi);
    total += hi - lo;
  }
  std::vector<std::uintptr_t> addresses;
  const std::uintptr_t step = std::max<std::uintptr_t>(1, total / count);
  for (const auto& [lo, hi] : text)
    for (std::uintptr_t a = lo; a < hi && addresses.size() < count; a += step) addresses.push_back(a);
  const long rss0 = rss_kib();
  const double t0 = thread_cpu_s();
  codeprof::sampling::Symbolizer sym;
  std::size_t with_line = 0, first_frames = 0;
  const double t_first0 = thread_cpu_s();
  first_frames = sym.frames(addresses.front()).size();
  const double first_s = thread_cpu_s() - t_first0;
  for (const auto a : addresses) with_line += sym.frames(a).front().line != 0;
  const double all_s = thread_cpu_s() - t0;
  const long rss1 = rss_kib();
  const double t1 = thread_cpu_s();
  for (const auto a : addresses) first_frames += sym.frames(a).size();  // cached
  const double cached_s = thread_cpu_s() - t1;
  std::printf("symbolised %zu distinct addresses in %zu modules: %.2f s CPU (%.1f us each; first one %.1f ms); "
              "%zu with a line; RSS +%.1f MiB (%.0f bytes each); cached lookups %.3f us each\n",
              addresses.size(), text.size(), all_s, all_s / static_cast<double>(addresses.size()) * 1e6, first_s * 1e3, with_line,
              static_cast<double>(rss1 - rss0) / 1024.0, static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(addresses.size()),
              cached_s / static_cast<double>(addresses.size()) * 1e6);
  return first_frames == 0;
}

int switch_cost(long round_trips, int rounds) {
  if (round_trips < 1 || rounds < 1) {
    std::fprintf(stderr, "sampling_bench switch_cost: expected a positive number of round trips and rounds\n");
    return 2;
  }
  double us[3];
  std::string error;
  if (!codeprof::bench::ContextSwitchCost().measure(rounds, round_trips, us, error)) {
    std::printf("switch_cost: not measured here: %s\n", error.c_str());
    return 0;  // a machine that denies perf events has nothing to measure
  }
  // Two switches per round trip.
  std::printf("round trip (2 context switches) on one CPU, median of %d rounds of %ld: no event %.2f us, "
              "per-thread cpu-clock events at 999 Hz %.2f us (%+.2f us per switch), inherited per-CPU event %.2f us (%+.2f us per switch)\n",
              rounds, round_trips, us[0], us[1], (us[1] - us[0]) / 2, us[2], (us[2] - us[0]) / 2);
  return 0;
}

// Two threads hand a byte back and forth through pipes on the CPU this one runs on, each running a
// scope around a little work per hand-over. Returns their CPU time per round trip (the sampler's
// thread and the profiler's start-up not included).
enum class Handoff { off, threads_first, sampler_first };
struct HandoffRun {
  double us = 0;  // CPU of the two threads per round trip
  std::uint64_t samples = 0, dropped = 0, threads = 0, inherited_threads = 0;
};
bool handoff_once(Handoff how, long round_trips, HandoffRun& run, std::string& error) {
  codeprof::bench::HandOver hand_over;
  if (!hand_over.open(error)) return false;
  const auto& to_b = hand_over.to_peer;
  const auto& to_a = hand_over.to_caller;
  std::unique_ptr<codeprof::Profiler> profiler;
  const auto start_profiler = [&] {
    codeprof::Config c;
    c.sampler_enabled = false;
    c.sampling.enabled = how != Handoff::off;  // 999 Hz, perf_ring where allowed
    profiler = std::make_unique<codeprof::Profiler>(c);
    profiler->flush();  // the first samples symbolised: their debug information loaded
  };
  std::atomic<bool> go{false};
  std::atomic<double> cpu_s{0};
  const auto side = [&](int in, int out, bool first, const char* op) {
    while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const double t0 = thread_cpu_s();
    char c = 0;
    std::uint64_t sink = 0;
    for (long i = 0; i < round_trips; ++i) {
      if (!first && read(in, &c, 1) != 1) break;
      {
        auto scope = profiler->profile_operation(op, codeprof::Category::DataLoading);
        sink += work_unit(static_cast<std::uint64_t>(i), 5'000);  // a few microseconds
      }
      if (write(out, &c, 1) != 1) break;
      if (first && read(in, &c, 1) != 1) break;
    }
    cpu_s = cpu_s + (thread_cpu_s() - t0);
    if (sink == 42) std::fprintf(stderr, " ");
  };
  if (how == Handoff::sampler_first) start_profiler();
  std::thread a(side, to_a[0], to_b[1], true, "produce");
  std::thread b(side, to_b[0], to_a[1], false, "consume");
  if (how != Handoff::sampler_first) start_profiler();
  go = true;
  a.join();
  b.join();
  for (const auto& src : profiler->snapshot().sampling.sources)
    if (src.name == "perf_ring") run = {0, src.samples, src.dropped, src.threads, src.inherited_threads};
  profiler.reset();
  run.us = cpu_s.load() / static_cast<double>(round_trips) * 1e6;
  return true;
}

int handoff(long round_trips, int rounds) {
  if (round_trips < 1 || rounds < 1) {
    std::fprintf(stderr, "sampling_bench handoff: expected a positive number of round trips and rounds\n");
    return 2;
  }
  std::vector<double> runs[3];
  HandoffRun last[3];
  std::string error;
  for (int r = 0; r < rounds; ++r)
    for (const Handoff how : {Handoff::off, Handoff::threads_first, Handoff::sampler_first}) {
      HandoffRun run;
      if (!handoff_once(how, round_trips, run, error)) {
        std::printf("handoff: not measured here: %s\n", error.c_str());
        return 0;
      }
      runs[static_cast<int>(how)].push_back(run.us);
      last[static_cast<int>(how)] = run;
    }
  double med[3];
  for (int i = 0; i < 3; ++i) {
    std::sort(runs[i].begin(), runs[i].end());
    med[i] = runs[i][runs[i].size() / 2];
  }
  std::printf("hand-over round trip on one CPU (2 context switches, a scope on each side), CPU of the two threads, median of %d rounds "
              "of %ld: sampling off %.2f us, 999 Hz with the threads started before the sampler (an event each) %.2f us (%+.1f %%), "
              "started after it (inherited per-CPU events) %.2f us (%+.1f %%)\n",
              rounds, round_trips, med[0], med[1], (med[1] / med[0] - 1) * 100, med[2], (med[2] / med[0] - 1) * 100);
  // What each sampled set-up took in its last round: a set-up that kept few samples is no bargain.
  for (const Handoff how : {Handoff::threads_first, Handoff::sampler_first}) {
    const HandoffRun& r = last[static_cast<int>(how)];
    std::printf("  %s: perf_ring sampled %llu threads (%llu through inherited events), kept %llu samples, dropped %llu\n",
                how == Handoff::threads_first ? "threads first" : "sampler first", static_cast<unsigned long long>(r.threads),
                static_cast<unsigned long long>(r.inherited_threads), static_cast<unsigned long long>(r.samples),
                static_cast<unsigned long long>(r.dropped));
  }
  if (last[static_cast<int>(Handoff::sampler_first)].threads == 0) {
    std::printf("handoff: perf_ring did not run here (perf events denied?): nothing compared\n");
    return 0;
  }
  // The set-up the bench is about must be what ran (an event each is what a failure to open the
  // per-CPU events falls back to).
  if (last[static_cast<int>(Handoff::sampler_first)].inherited_threads != 2 || last[static_cast<int>(Handoff::threads_first)].inherited_threads != 0) {
    std::fprintf(stderr, "sampling_bench handoff: the threads were not sampled the way each set-up names\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "run";
  if (mode == "run" && argc > 2) return run(argv[2], argc > 3 ? std::atof(argv[3]) : 3.0);
  if (mode == "switch_cost")
    return switch_cost(argc > 2 ? std::atol(argv[2]) : 100'000, argc > 3 ? std::atoi(argv[3]) : 5);
  if (mode == "handoff") return handoff(argc > 2 ? std::atol(argv[2]) : 20'000, argc > 3 ? std::atoi(argv[3]) : 5);
  if (mode == "symbolize") return symbolize(argc > 2 ? static_cast<std::size_t>(std::atol(argv[2])) : 100'000);
  std::fprintf(stderr, "sampling_bench: expected 'run MODE [seconds]', 'switch_cost [round trips] [rounds]', 'handoff [round trips] [rounds]' or 'symbolize [count]', got '%s'\n", mode.c_str());
  return 2;
}
