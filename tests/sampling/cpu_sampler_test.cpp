// Native CPU sampling through a real Profiler: both mechanisms, the planted line found with the
// right share, inlined frames, threads that run scopes vs all threads, host I/O without EINTR,
// fork, reset and shutdown while threads burn CPU.
#include <fcntl.h>
#include <sched.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "codeprof/profiler.hpp"
#include "sampling/planted_workload.hpp"

namespace codeprof {
namespace {

// ThreadSanitizer delivers signals late, at its next interception point, with the context saved
// when they arrived: unwinding that context then reads a stack that has moved on. The signal-driven
// mechanisms run in the release and ASan builds; perf_ring, which sends no signal, runs under TSan
// too (its marks are shared between the sampled thread and the sampler's).
#if defined(__SANITIZE_THREAD__)
constexpr bool kUnderTsan = true;
#else
constexpr bool kUnderTsan = false;
#endif
#define SKIP_UNDER_TSAN() \
  if (kUnderTsan) GTEST_SKIP() << "signal-driven sampling is not run under ThreadSanitizer"
#define SKIP_SIGNALS_UNDER_TSAN(mechanism) \
  if (kUnderTsan && std::string(mechanism) != "perf_ring" && std::string(mechanism) != "auto") \
  GTEST_SKIP() << "signal-driven sampling is not run under ThreadSanitizer"

Config sampling_config(const char* mechanism, bool all_threads = false) {
  Config c;
  c.sampler_enabled = false;
  c.sampling.enabled = true;
  c.sampling.all_threads = all_threads;
  c.sampling_mechanism = mechanism;
  return c;
}

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void burn(double cpu_seconds) {
  volatile double x = 1;
  const double until = thread_cpu_s() + cpu_seconds;
  while (thread_cpu_s() < until)
    for (int i = 0; i < 100000; ++i) x = x * 1.0000001 + 1e-9;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

const SamplingSource* source(const Snapshot& s, const std::string& name) {
  for (const auto& src : s.sampling.sources)
    if (src.name == name && src.samples > 0) return &src;
  return nullptr;
}

// What a source took, for the test's log.
std::string counts(const SamplingSource& src) {
  return "threads " + std::to_string(src.threads) + " (inherited " + std::to_string(src.inherited_threads) + "), samples " +
         std::to_string(src.samples) + ", dropped " + std::to_string(src.dropped);
}

class Mechanism : public ::testing::TestWithParam<const char*> {};

TEST_P(Mechanism, PlantedLineComesFirstWithItsShare) {
  SKIP_SIGNALS_UNDER_TSAN(GetParam());
  Profiler p(sampling_config(GetParam()));
  const SiteId planted = register_site("planted_op", Category::Preprocessing);
  const SiteId parent = register_site("planted_parent", Category::TrainingLoop);
  test::PlantedTimes t;
  {
    auto outer = p.scope(parent);
    auto scope = p.scope(planted);
    t = test::run_planted_work(0.6);
  }
  const Snapshot s = p.snapshot();
  for (const auto& u : s.sampling.unavailable) std::printf("unavailable: %s: %s\n", u.what.c_str(), u.reason.c_str());
  ASSERT_NE(source(s, GetParam()), nullptr) << "no samples from " << GetParam();
  EXPECT_EQ(s.sampling.unwinder, "libunwind");
  // The sampler's thread symbolised the planted code at least: some of the process's CPU, not all.
  timespec process_cpu{};
  ASSERT_EQ(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &process_cpu), 0);
  EXPECT_GT(s.sampling.sampler_cpu_ns, 0u);
  EXPECT_LT(static_cast<double>(s.sampling.sampler_cpu_ns) / 1e9,
            static_cast<double>(process_cpu.tv_sec) + static_cast<double>(process_cpu.tv_nsec) / 1e9);
  const OperationStats* op = s.find("planted_op");
  ASSERT_NE(op, nullptr);
  ASSERT_GT(op->cpu_samples, 200u);
  ASSERT_FALSE(op->hot_lines.empty());
  const HotSpot& first = op->hot_lines[0];
  const double truth = t.hot_s / (t.hot_s + t.helper_s);
  std::printf("%s: %llu samples; first line %s %s:%u share %.3f (truth %.3f)\n", GetParam(),
              static_cast<unsigned long long>(op->cpu_samples), first.function.c_str(), first.file.c_str(), first.line,
              first.share, truth);
  EXPECT_TRUE(ends_with(first.file, test::kPlantedFile)) << first.file;
  EXPECT_EQ(first.line, test::kHotLine);
  EXPECT_NE(first.function.find("planted_round"), std::string::npos) << first.function;
  // perf_event samples every period: within 10 points. The timer fallback is checked by the kernel
  // at scheduler ticks (4 ms at HZ=250), so at 999 Hz a quarter as many distinct samples carry
  // overrun weights: its shares are noisier (measured here: 0.59 to 0.88 for a truth of 0.71).
  EXPECT_NEAR(first.share, truth, std::string(GetParam()) == "timer" ? 0.25 : 0.10);

  // The helper is inlined: it is its own frame, and its caller is the call line.
  bool helper_seen = false;
  for (const auto& h : op->hot_functions)
    if (h.function.find("inlined_helper") != std::string::npos) helper_seen = true;
  EXPECT_TRUE(helper_seen);
  bool call_line_seen = false;
  for (const auto& st : s.profile.stacks) {
    if (!st.operations.empty() && st.operations[0] == planted.id) {
      EXPECT_EQ(st.operations, (std::vector<std::uint32_t>{planted.id, parent.id}));  // innermost first
    }
    if (st.frames.size() < 2) continue;
    const ProfileFrame& leaf = s.profile.frames[st.frames[0]];
    const ProfileFrame& caller = s.profile.frames[st.frames[1]];
    if (leaf.inlined && leaf.function.find("inlined_helper") != std::string::npos &&
        caller.function.find("planted_round") != std::string::npos && caller.line == test::kHelperCallLine)
      call_line_seen = true;
  }
  EXPECT_TRUE(call_line_seen);
}

INSTANTIATE_TEST_SUITE_P(Sampling, Mechanism, ::testing::Values("perf_ring", "perf_event", "timer"));

// Distinct leaf functions, so a sample's leaf says which one ran (no clock reads inside: those
// would be their own leaves).
[[gnu::noinline]] double spin_in_a(long n) {
  volatile double x = 1;
  for (long i = 0; i < n; ++i) x = x * 1.0000001 + 1e-9;
  return x;
}
[[gnu::noinline]] double spin_in_b(long n) {
  volatile double x = 2;
  for (long i = 0; i < n; ++i) x = x * 1.0000001 + 2e-9;
  return x;
}
[[gnu::noinline]] double spin_in_loop(long n) {
  volatile double x = 3;
  for (long i = 0; i < n; ++i) x = x * 1.0000001 + 3e-9;
  return x;
}

double share_of(const OperationStats& op, const char* function) {
  for (const auto& h : op.hot_functions)
    if (h.function.find(function) != std::string::npos) return h.share;
  return 0.0;
}

// Iterations of the spin functions per millisecond of CPU, measured here (sanitizers and machines
// differ).
long spins_per_ms() {
  const double t0 = thread_cpu_s();
  spin_in_loop(2'000'000);
  return std::max(1000L, static_cast<long>(2'000'000 / ((thread_cpu_s() - t0) * 1000)));
}

// op_a and op_b, each about a millisecond in its own function, with `between` spins of the caller's
// own between them, for `cpu_seconds` of the thread's CPU.
void alternate_ops(Profiler& p, long per_ms, long between, double cpu_seconds) {
  const double until = thread_cpu_s() + cpu_seconds;
  while (thread_cpu_s() < until) {
    {
      auto a = p.profile_operation("op_a", Category::Preprocessing);
      spin_in_a(per_ms);
    }
    spin_in_loop(between);
    {
      auto b = p.profile_operation("op_b", Category::ModelInference);
      spin_in_b(per_ms);
    }
  }
}

// Only a sample within a few instructions of a boundary may fall on its other side. (Measured:
// 1.000 for each. Under TSan its runtime is the leaf of some samples (the spin loops' volatile
// accesses, the scopes' atomics), and 0 to 1.7 % of an operation's samples were in the other
// operation's function in a clean-clone run.)
constexpr double kOwnShare = kUnderTsan ? 0.9 : 0.97, kOtherShare = kUnderTsan ? 0.04 : 0.02;
void expect_own_functions(const OperationStats& a, const OperationStats& b) {
  EXPECT_GT(share_of(a, "spin_in_a"), kOwnShare);
  EXPECT_LT(share_of(a, "spin_in_b"), kOtherShare);
  EXPECT_GT(share_of(b, "spin_in_b"), kOwnShare);
  EXPECT_LT(share_of(b, "spin_in_a"), kOtherShare);
}

// Operations that alternate every ~1 ms, each with its own leaf function, inside a loop that does
// work of its own between them: each operation's samples must show its own function. With
// perf_ring the kernel takes the samples and the thread's scopes mark them; a mark placed at the
// wrong change of the stack shows up here as another operation's function.
TEST_P(Mechanism, SamplesGoToTheOperationOpenWhenTaken) {
  SKIP_SIGNALS_UNDER_TSAN(GetParam());
  Profiler p(sampling_config(GetParam()));
  const long per_ms = spins_per_ms();
  {
    auto loop = p.profile_operation("alternating_loop", Category::TrainingLoop);
    alternate_ops(p, per_ms, per_ms / 2, 1.2);
  }
  const Snapshot s = p.snapshot();
  ASSERT_NE(source(s, GetParam()), nullptr) << "no samples from " << GetParam();
  const OperationStats* a = s.find("op_a");
  const OperationStats* b = s.find("op_b");
  const OperationStats* loop = s.find("alternating_loop");
  ASSERT_TRUE(a && b && loop);
  std::printf("%s: op_a %llu samples (spin_in_a %.3f, spin_in_b %.3f), op_b %llu (spin_in_b %.3f, spin_in_a %.3f), loop %llu self (spin_in_loop %.3f)\n",
              GetParam(), static_cast<unsigned long long>(a->cpu_samples), share_of(*a, "spin_in_a"), share_of(*a, "spin_in_b"),
              static_cast<unsigned long long>(b->cpu_samples), share_of(*b, "spin_in_b"), share_of(*b, "spin_in_a"),
              static_cast<unsigned long long>(loop->cpu_samples), share_of(*loop, "spin_in_loop"));
  ASSERT_GT(a->cpu_samples, 150u);
  ASSERT_GT(b->cpu_samples, 150u);
  expect_own_functions(*a, *b);
  // The loop's own samples: one in 470 was the loop's clock read, elsewhere; under TSan 0.89 to
  // 0.96 in spin_in_loop, 2.2 % in the two operations' functions in a clean-clone run.
  EXPECT_GT(share_of(*loop, "spin_in_loop"), kUnderTsan ? 0.8 : 0.9);
  EXPECT_LT(share_of(*loop, "spin_in_a") + share_of(*loop, "spin_in_b"), kOtherShare);
}

TEST(CpuSampler, OnlyThreadsThatRunScopesUnlessAllThreads) {
  SKIP_SIGNALS_UNDER_TSAN("auto");
  for (const bool all : {false, true}) {
    Profiler p(sampling_config("auto", all));
    // Each profiler symbolises with its own symboliser: the first samples load this binary's
    // debug information, which holds the sampler's thread for up to a second under TSan on a
    // loaded machine, and a thread started and gone meanwhile is never armed (all_threads finds
    // threads at its ticks). Loaded here, before the threads under test start.
    {
      auto warm_up = p.profile_operation("warm_up", Category::Cpu);
      burn(0.03);
    }
    (void)p.snapshot();
    std::atomic<long> tid{0};
    std::thread quiet([&] {
      tid = static_cast<long>(gettid());
      burn(0.2);  // never runs a scope
    });
    {
      auto scope = p.profile_operation("busy_op", Category::Cpu);
      burn(0.12);
    }
    quiet.join();
    const Snapshot s = p.snapshot();
    std::uint64_t quiet_samples = 0;
    for (const auto& st : s.profile.stacks)
      if (st.thread == static_cast<std::uint64_t>(tid.load())) quiet_samples += st.cpu_samples;
    ASSERT_NE(s.find("busy_op"), nullptr);
    EXPECT_GT(s.find("busy_op")->cpu_samples, 30u);
    if (all) EXPECT_GT(quiet_samples, 30u);
    else EXPECT_EQ(quiet_samples, 0u);
  }
}

// perf_ring opens one event per CPU that threads started afterwards inherit (perf record's way),
// and gives threads that existed before an event of their own. Four threads alternate two
// operations on however many CPUs there are (on two, they are switched and moved between CPUs
// all the time): the threads under the CPU rings, whose samples are matched to their marks by time,
// keep each operation's samples in its own function like the thread with its own ring.
TEST(CpuSampler, ThreadsStartedLaterShareCpuRingsAndKeepTheirOperations) {
  std::atomic<int> go{0};
  Profiler* profiler = nullptr;
  std::atomic<long> per_ms{0};
  const auto alternate = [&] { alternate_ops(*profiler, per_ms, per_ms / 4, 0.5); };
  std::atomic<long> early_tid{0};
  std::thread early([&] {  // exists before the sampler starts: its own event
    early_tid = static_cast<long>(gettid());
    while (go.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    alternate();
  });
  Profiler p(sampling_config("perf_ring"));
  profiler = &p;
  per_ms = spins_per_ms();
  std::vector<std::thread> later;
  for (int i = 0; i < 3; ++i) later.emplace_back(alternate);
  go = 1;
  early.join();
  for (auto& t : later) t.join();
  const Snapshot s = p.snapshot();
  for (const auto& u : s.sampling.unavailable)
    if (u.what == "sampling_perf_ring") ADD_FAILURE() << u.what << ": " << u.reason;
  const SamplingSource* ring = source(s, "perf_ring");
  ASSERT_NE(ring, nullptr);
  std::uint64_t early_samples = 0;
  for (const auto& st : s.profile.stacks)
    if (st.thread == static_cast<std::uint64_t>(early_tid.load())) early_samples += st.cpu_samples;
  const OperationStats* a = s.find("op_a");
  const OperationStats* b = s.find("op_b");
  ASSERT_TRUE(a && b);
  std::printf("%s; the early thread's samples %llu; op_a %llu samples (spin_in_a %.3f, spin_in_b %.3f), op_b %llu (spin_in_b "
              "%.3f, spin_in_a %.3f)\n",
              counts(*ring).c_str(), static_cast<unsigned long long>(early_samples), static_cast<unsigned long long>(a->cpu_samples),
              share_of(*a, "spin_in_a"), share_of(*a, "spin_in_b"), static_cast<unsigned long long>(b->cpu_samples),
              share_of(*b, "spin_in_b"), share_of(*b, "spin_in_a"));
  // Under TSan the sampler's thread falls far behind four busy threads (hundreds of samples
  // dropped, counted) and some threads end before it arms them: only what was sampled is checked.
  if (!kUnderTsan) {
    EXPECT_EQ(ring->threads, 4u);
    EXPECT_EQ(ring->inherited_threads, 3u);
    EXPECT_GT(early_samples, 100u);
  }
  // 2,000 samples in all (4 threads, 0.5 s of CPU each, 999 Hz); under TSan as few as two threads
  // may have been armed in time (a clean-clone run kept 398 and 396): enough for the shares.
  const std::uint64_t floor = kUnderTsan ? 150 : 400;
  ASSERT_GT(a->cpu_samples, floor);
  ASSERT_GT(b->cpu_samples, floor);
  expect_own_functions(*a, *b);
}

// Two threads started after the sampler hand a byte back and forth on one CPU, each running its
// operation for a few tens of microseconds per hand-over: thousands of context switches a second
// between threads under the CPU rings (the case they exist for), each switch between two scope
// changes. Each operation's samples stay in its own function and few are dropped.
TEST(CpuSampler, ThreadsHandingWorkOverKeepTheirOperations) {
  // Under TSan the sampler's thread cannot keep up with 20,000 hand-overs a second: in a clean-clone
  // run the CPU rings overflowed (4,547 records lost) and 42 samples were kept. Release and ASan
  // runs check it.
  if (kUnderTsan) GTEST_SKIP() << "the sampler's thread falls too far behind under ThreadSanitizer";
  Profiler p(sampling_config("perf_ring"));
  const long per_ms = spins_per_ms();
  int to_b[2], to_a[2];
  ASSERT_EQ(pipe(to_b), 0);
  ASSERT_EQ(pipe(to_a), 0);
  const int cpu = sched_getcpu();
  ASSERT_GE(cpu, 0);
  const auto side = [&](int in, int out, bool first, const char* op, double (*spin)(long)) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof one, &one);
    // The first side decides when to stop (after 0.4 s of its CPU) and sends 0; the other stops on it.
    const double until = thread_cpu_s() + 0.4;
    for (;;) {
      char c = 1;
      if (first) c = thread_cpu_s() < until ? 1 : 0;
      else if (read(in, &c, 1) != 1 || c == 0) break;
      {
        auto scope = p.profile_operation(op, Category::DataLoading);
        spin(per_ms / 30);
      }
      spin_in_loop(per_ms / 100);
      if (write(out, &c, 1) != 1 || c == 0) break;
      if (first && read(in, &c, 1) != 1) break;
    }
  };
  std::thread a(side, to_a[0], to_b[1], true, "op_a", spin_in_a);
  std::thread b(side, to_b[0], to_a[1], false, "op_b", spin_in_b);
  a.join();
  b.join();
  for (const int fd : {to_a[0], to_a[1], to_b[0], to_b[1]}) close(fd);
  const Snapshot s = p.snapshot();
  const SamplingSource* ring = source(s, "perf_ring");
  ASSERT_NE(ring, nullptr);
  const OperationStats* op_a = s.find("op_a");
  const OperationStats* op_b = s.find("op_b");
  ASSERT_TRUE(op_a && op_b);
  std::printf("%s; op_a %llu calls %llu samples (spin_in_a %.3f, spin_in_b %.3f), op_b %llu samples (spin_in_b %.3f, "
              "spin_in_a %.3f)\n",
              counts(*ring).c_str(), static_cast<unsigned long long>(op_a->count), static_cast<unsigned long long>(op_a->cpu_samples),
              share_of(*op_a, "spin_in_a"), share_of(*op_a, "spin_in_b"), static_cast<unsigned long long>(op_b->cpu_samples),
              share_of(*op_b, "spin_in_b"), share_of(*op_b, "spin_in_a"));
#if defined(__SANITIZE_ADDRESS__)
  constexpr bool kUnderAsan = true;
#else
  constexpr bool kUnderAsan = false;
#endif
  EXPECT_EQ(ring->inherited_threads, 2u);
  // Under ASan the sampler's thread falls behind even alone: 6 runs each of this and the previous
  // unwinder kept 348 to 563 samples and dropped 113 to 342; beside other tests in a clean-clone
  // run it kept 96 and dropped 582. There only the attribution of what was kept is checked, given
  // enough of it.
  if (kUnderAsan && (op_a->cpu_samples < 30 || op_b->cpu_samples < 30))
    GTEST_SKIP() << "under ASan the sampler's thread fell too far behind to check the shares";
  ASSERT_GT(op_a->cpu_samples, kUnderAsan ? 29u : 150u);
  ASSERT_GT(op_b->cpu_samples, kUnderAsan ? 29u : 150u);
  // With 256 marks a thread this lost about a third (full mark rings). Release, alone: 1 to 7 % (a
  // few dozen while the first symbolisation holds up the sampler's thread); beside other sampling
  // tests under `ctest -j2` the sampler's thread gets less CPU and the CPU rings overflow: 22 % once.
  // Under ASan (above): counted, never guessed, not bounded here.
  if (!kUnderAsan) {
    EXPECT_LT(static_cast<double>(ring->dropped), 0.28 * static_cast<double>(ring->samples + ring->dropped));
  }
  expect_own_functions(*op_a, *op_b);
}

// A stopped sampler's per-CPU rings stay mapped (as zeros: a thread may still read a position);
// the next sampler maps its rings over them, so profilers one after another do not add mappings.
TEST(CpuSampler, SuccessiveSamplersReuseTheCpuRingsMappings) {
  // Parked rings are read-only anonymous mappings: their total size.
  const auto parked_kib = [] {
    std::ifstream in("/proc/self/maps");
    long kib = 0;
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string range, perms, offset, device, inode, path;
      fields >> range >> perms >> offset >> device >> inode >> path;
      if (perms != "r--p" || inode != "0" || !path.empty()) continue;
      const auto dash = range.find('-');
      kib += static_cast<long>((std::stoull(range.substr(dash + 1), nullptr, 16) - std::stoull(range.substr(0, dash), nullptr, 16)) / 1024);
    }
    return kib;
  };
  long after_first = 0;
  for (int i = 0; i < 6; ++i) {
    {
      Profiler p(sampling_config("perf_ring"));
      std::thread t([&] {
        auto scope = p.profile_operation("short_op", Category::Cpu);
        burn(0.02);
      });
      t.join();
    }
    if (i == 0) after_first = parked_kib();
  }
  const long after_all = parked_kib();
  std::printf("read-only anonymous mappings after the first profiler %ld KiB, after six %ld KiB\n", after_first, after_all);
  EXPECT_GT(after_first, 0);  // the first sampler's rings, parked
  EXPECT_EQ(after_all, after_first);
}

// A host program doing blocking I/O while sampled: every byte arrives, no call fails with EINTR.
void blocking_io(int read_fd, int write_fd, Profiler& p, std::atomic<int>& eintr, std::uint64_t& checksum_in,
                 std::uint64_t& checksum_out) {
  constexpr int kBytes = 1 << 20;
  std::thread writer([&] {
    auto scope = p.profile_operation("io_writer", Category::Io);
    unsigned char buf[4096];
    for (int sent = 0; sent < kBytes;) {
      for (int i = 0; i < 4096; ++i) buf[i] = static_cast<unsigned char>((sent + i) * 131 % 251);
      for (int i = 0; i < 4096; ++i) checksum_out += buf[i] * static_cast<std::uint64_t>(sent + i + 1);
      int off = 0;
      while (off < 4096) {
        const ssize_t n = write(write_fd, buf + off, 4096 - off);
        if (n < 0) {
          if (errno == EINTR) ++eintr;
          else return;
        } else off += static_cast<int>(n);
      }
      sent += 4096;
    }
  });
  {
    auto scope = p.profile_operation("io_reader", Category::Io);
    unsigned char buf[97];  // odd sizes: many calls, some that block
    for (std::uint64_t got = 0; got < static_cast<std::uint64_t>(kBytes);) {
      const ssize_t n = read(read_fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) ++eintr;
        else break;
        continue;
      }
      if (n == 0) break;
      for (ssize_t i = 0; i < n; ++i) checksum_in += buf[i] * (got + static_cast<std::uint64_t>(i) + 1);
      got += static_cast<std::uint64_t>(n);
    }
  }
  writer.join();
}

TEST_P(Mechanism, BlockingIoLosesNothingAndSeesNoEintr) {
  SKIP_SIGNALS_UNDER_TSAN(GetParam());
  Profiler p(sampling_config(GetParam(), true));
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int sock[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sock), 0);
  std::atomic<int> eintr{0};
  std::uint64_t in1 = 0, out1 = 0, in2 = 0, out2 = 0;
  {
    // The reads and writes themselves use little user-space CPU (perf_event counts only that): on
    // a loaded machine they may end before the first sample. CPU work first shows that sampling runs.
    auto scope = p.profile_operation("io_warm_up", Category::Cpu);
    burn(0.05);
  }
  blocking_io(pipe_fds[0], pipe_fds[1], p, eintr, in1, out1);
  blocking_io(sock[0], sock[1], p, eintr, in2, out2);
  for (int fd : {pipe_fds[0], pipe_fds[1], sock[0], sock[1]}) close(fd);
  EXPECT_EQ(eintr.load(), 0);
  EXPECT_EQ(in1, out1);
  EXPECT_EQ(in2, out2);
  EXPECT_GT(p.snapshot().sampling.samples, 0u);
}

TEST(CpuSampler, ForkedChildRunsAndExitsNormally) {
  SKIP_UNDER_TSAN();
  Profiler p(sampling_config("auto"));
  {
    auto scope = p.profile_operation("before_fork", Category::Cpu);
    burn(0.05);
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // CPU work and scopes in the child: no timer of the parent's fires here, no SIGPROF kills it.
    {
      auto scope = p.profile_operation("in_child", Category::Cpu);
      burn(0.2);
    }
    const Snapshot s = p.snapshot();
    const OperationStats* op = s.find("in_child");
    _exit(op && op->count == 1 ? 7 : 8);
  }
  {
    auto scope = p.profile_operation("parent_after_fork", Category::Cpu);
    burn(0.1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_GT(p.snapshot().find("parent_after_fork")->cpu_samples, 0u);
}

TEST(CpuSampler, ResetAndShutdownWhileThreadsBurnCpu) {
  // Under TSan four busy threads outrun the sampler's unwinding, and the snapshots wait for it (the
  // run took 108 s): the marks' sharing is exercised by the tests above.
  SKIP_UNDER_TSAN();
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  {
    Profiler p(sampling_config("auto", true));
    for (int i = 0; i < 3; ++i)
      workers.emplace_back([&] {
        while (!stop) {
          auto scope = p.profile_operation("worker_op", Category::Cpu);
          burn(0.005);
        }
      });
    burn(0.05);
    p.reset();
    const Snapshot fresh = p.snapshot();
    burn(0.05);
    const Snapshot later = p.snapshot();
    EXPECT_GE(later.sampling.samples, fresh.sampling.samples);
    stop = true;
    for (auto& w : workers) w.join();
  }  // the profiler goes while nothing runs
  // The handler stays installed: a late SIGPROF must not kill the process.
  raise(SIGPROF);
  burn(0.05);
  SUCCEED();
}

}  // namespace
}  // namespace codeprof
