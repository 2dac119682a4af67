// CopiedStackUnwinder: a stack copied the way perf's PERF_SAMPLE_STACK_USER copies it (registers
// in perf's order, the bytes above the sampled SP) is unwound with DWARF CFI after the real stack
// has moved on, through functions built without frame pointers; short copies and garbage registers
// give short stacks, never a crash.
#include <gtest/gtest.h>
#include <dlfcn.h>
#include <linux/perf_event.h>
#include <pthread.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <thread>
#include <vector>

#include "sampling/copied_stack_unwinder.hpp"
#include "sampling/perf_sample_ring.hpp"

namespace codeprof::sampling {
namespace copied_stack_test {  // named: other test files share this unity translation unit

using Unwinder = CopiedStackUnwinder;

// No inlining, cloning or interprocedural shortcuts (the frames must be real calls), and no frame
// pointer: only .eh_frame can unwind them (in the release tree; the ASan tree keeps %rbp frames).
#if defined(__clang__)
#define CODEPROF_TEST_FRAME [[gnu::noinline]]
#else
#define CODEPROF_TEST_FRAME [[gnu::noipa, gnu::optimize("omit-frame-pointer")]]
#endif

// A sample as the kernel would take it, plus the return addresses the unwinder must find.
struct Capture {
  std::uint64_t registers[Unwinder::kRegisterCount] = {};
  std::vector<unsigned char> stack;  // the copy from the sampled SP up
  std::uintptr_t return_into_middle = 0, return_into_outer = 0, return_into_test = 0;
};

constexpr std::size_t kCopyBytes = 16 * 1024;

// Copies the live stack word by word below ASan's view: the frames above hold redzones that any
// instrumented read (memcpy included) would report.
__attribute__((no_sanitize_address)) void copy_stack(std::uintptr_t from, std::size_t bytes, unsigned char* to) {
  const volatile std::uint64_t* words = reinterpret_cast<const volatile std::uint64_t*>(from);
  for (std::size_t i = 0; i < bytes / 8; ++i) {
    const std::uint64_t w = words[i];
    __builtin_memcpy(to + 8 * i, &w, 8);
  }
}

// What the kernel copies: at most kCopyBytes, and never past the end of the thread's stack.
std::size_t copyable_bytes(std::uintptr_t sp) {
  pthread_attr_t attr;
  void* low = nullptr;
  std::size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  pthread_attr_getstack(&attr, &low, &size);
  pthread_attr_destroy(&attr);
  const std::uintptr_t top = reinterpret_cast<std::uintptr_t>(low) + size;
  return sp < top ? std::min<std::size_t>(kCopyBytes, (top - sp) & ~std::size_t{7}) : 0;
}

CODEPROF_TEST_FRAME int inner(Capture& c, int depth) {
  c.stack.resize(kCopyBytes);  // allocated before the registers are taken: nothing moves after
  // The registers at this instruction, in perf's order: AX BX CX DX SI DI BP SP IP R8..R15. IP is
  // the address after the lea, inside inner, where the CFI describes exactly this SP.
  __asm__ volatile(
      "movq %%rax,   0(%0)\n\t"
      "movq %%rbx,   8(%0)\n\t"
      "movq %%rcx,  16(%0)\n\t"
      "movq %%rdx,  24(%0)\n\t"
      "movq %%rsi,  32(%0)\n\t"
      "movq %%rdi,  40(%0)\n\t"
      "movq %%rbp,  48(%0)\n\t"
      "movq %%rsp,  56(%0)\n\t"
      "leaq 0(%%rip), %%rax\n\t"
      "movq %%rax,  64(%0)\n\t"
      "movq %%r8,   72(%0)\n\t"
      "movq %%r9,   80(%0)\n\t"
      "movq %%r10,  88(%0)\n\t"
      "movq %%r11,  96(%0)\n\t"
      "movq %%r12, 104(%0)\n\t"
      "movq %%r13, 112(%0)\n\t"
      "movq %%r14, 120(%0)\n\t"
      "movq %%r15, 128(%0)\n\t"
      :
      : "r"(c.registers)
      : "rax", "memory");
  const std::uintptr_t sp = c.registers[7];
  const std::size_t bytes = copyable_bytes(sp);
  copy_stack(sp, bytes, c.stack.data());  // its frames lie below sp: the copied bytes stay put
  c.stack.resize(bytes);
  c.return_into_middle = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  return depth + 1;
}

CODEPROF_TEST_FRAME int middle(Capture& c, int depth) {
  c.return_into_outer = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  return inner(c, depth + 1) * 3;  // work after the call: no tail call
}

CODEPROF_TEST_FRAME int outer(Capture& c, int depth) {
  c.return_into_test = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  return middle(c, depth + 1) * 5;
}

// Overwrites the stack the capture came from, so only the copy still says what it held.
CODEPROF_TEST_FRAME int scribble_over_stack() {
  volatile unsigned char junk[3 * kCopyBytes];
  for (std::size_t i = 0; i < sizeof junk; ++i) junk[i] = static_cast<unsigned char>(0xA5 ^ i);
  return junk[100];
}

int unwind(const Capture& c, std::size_t bytes, std::uintptr_t* pcs, int max) {
  return Unwinder::get().unwind(c.registers, c.stack.data(), std::min(bytes, c.stack.size()), pcs, max);
}

#define SKIP_WITHOUT_LIBUNWIND()       \
  if (!Unwinder::get().ok())           \
  GTEST_SKIP() << Unwinder::get().error

TEST(CopiedStackUnwinder, UnwindsACopyThroughFramesWithoutFramePointers) {
  SKIP_WITHOUT_LIBUNWIND();
  Capture c;
  ASSERT_EQ(outer(c, 0), 15 * (0 + 3));
  ASSERT_NE(scribble_over_stack(), 0x1234);
  ASSERT_GT(c.stack.size(), 1024u);

  std::uintptr_t pcs[64];
  const int n = unwind(c, c.stack.size(), pcs, 64);
  ASSERT_GE(n, 4) << "stack copy of " << c.stack.size() << " bytes";
  EXPECT_EQ(pcs[0], c.registers[8]) << "the sampled IP, inside inner";
  EXPECT_EQ(pcs[1], c.return_into_middle);
  EXPECT_EQ(pcs[2], c.return_into_outer);
  EXPECT_EQ(pcs[3], c.return_into_test);
  EXPECT_GT(n, 4) << "the chain goes on into the test's caller";
  for (int i = 0; i < n; ++i) EXPECT_NE(pcs[i], 0u) << i;

  // At most `max`.
  EXPECT_EQ(unwind(c, c.stack.size(), pcs, 2), 2);
  EXPECT_EQ(pcs[1], c.return_into_middle);

  // The same through perf's REGS_USER layout, ABI word first.
  Unwinder::Registers regs{};
  regs.abi = PERF_SAMPLE_REGS_ABI_64;
  std::copy(std::begin(c.registers), std::end(c.registers), regs.values);
  EXPECT_EQ(Unwinder::get().unwind(regs, c.stack.data(), c.stack.size(), pcs, 64), n);
  regs.abi = PERF_SAMPLE_REGS_ABI_NONE;  // a sample that hit no user context
  EXPECT_EQ(Unwinder::get().unwind(regs, c.stack.data(), c.stack.size(), pcs, 64), 0);

  // The number the sampler's budget needs: the rules are cached after the first walk.
  constexpr int kRounds = 1000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_EQ(unwind(c, c.stack.size(), pcs, 64), n);
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ copied-stack unwind ] %d frames from a %zu-byte copy: %.2f us per unwind (mean of %d)\n", n,
              c.stack.size(), us / kRounds, kRounds);
}

// A hand-written frame whose CFA is a word read from the stack plus 8 (DW_CFA_def_cfa_expression:
// DW_OP_breg6 0, DW_OP_deref, DW_OP_plus_uconst 8). It reads like a realigned frame's CFA shifted
// by 8, and is not one: the rules walk must leave it to libunwind.
extern "C" int codeprof_test_frame_cfa_read_plus_8(Capture* c, int depth);
extern "C" CODEPROF_TEST_FRAME int codeprof_test_under_odd_frame(Capture* c, int depth) {
  c->return_into_outer = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));  // into the odd frame
  return inner(*c, depth) * 3;
}
__asm__(R"(
  .text
  .globl codeprof_test_frame_cfa_read_plus_8
  .type codeprof_test_frame_cfa_read_plus_8,@function
codeprof_test_frame_cfa_read_plus_8:
  .cfi_startproc
  push %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  lea 8(%rsp), %rax
  push %rax
  mov %rsp, %rbp
  .cfi_escape 0x0f, 0x05, 0x76, 0x00, 0x06, 0x23, 0x08
  sub $8, %rsp
  call codeprof_test_under_odd_frame
  nop
  add $8, %rsp
  pop %rcx
  .cfi_def_cfa %rsp, 16
  pop %rbp
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc
  .size codeprof_test_frame_cfa_read_plus_8, .-codeprof_test_frame_cfa_read_plus_8
)");

TEST(CopiedStackUnwinder, AnotherCfaExpressionIsLeftToLibunwind) {
  SKIP_WITHOUT_LIBUNWIND();
  Capture c;
  ASSERT_EQ(codeprof_test_frame_cfa_read_plus_8(&c, 0), 3);
  std::uintptr_t pcs[64], reference[64];
  const Unwinder::WalkCounts before = Unwinder::get().walk_counts();
  const int n = Unwinder::get().unwind(c.registers, c.stack.data(), c.stack.size(), pcs, 64);
  const Unwinder::WalkCounts after = Unwinder::get().walk_counts();
  const int m = Unwinder::get().unwind_with_libunwind(c.registers, c.stack.data(), c.stack.size(), reference, 64);
  EXPECT_EQ(after.by_rules, before.by_rules) << "the odd frame's rule was taken for a realigned frame's";
  EXPECT_EQ(after.by_libunwind, before.by_libunwind + 1);
  ASSERT_EQ(n, m);
  EXPECT_TRUE(std::equal(pcs, pcs + n, reference));
  ASSERT_GE(n, 4);
  EXPECT_EQ(pcs[1], c.return_into_middle);
  EXPECT_EQ(pcs[2], c.return_into_outer) << "the return address into the odd frame";
  EXPECT_GT(n, 4) << "libunwind walks on past the odd frame into the test";
}

TEST(CopiedStackUnwinder, ShortCopyGivesAShortStack) {
  SKIP_WITHOUT_LIBUNWIND();
  Capture c;
  outer(c, 0);
  std::uintptr_t pcs[64];
  const int full = unwind(c, c.stack.size(), pcs, 64);
  const int n = unwind(c, 64, pcs, 64);
  EXPECT_GE(n, 1);
  EXPECT_LT(n, full);
  EXPECT_EQ(pcs[0], c.registers[8]);
  if (n >= 2) {
    EXPECT_EQ(pcs[1], c.return_into_middle);  // whatever is there is right, not guessed
  }
  EXPECT_EQ(unwind(c, 0, pcs, 64), 1) << "no copy at all: the sampled IP alone";
}

TEST(CopiedStackUnwinder, GarbageRegistersGiveAtMostOneFrame) {
  SKIP_WITHOUT_LIBUNWIND();
  std::vector<unsigned char> stack(kCopyBytes, 0x41);
  std::uint64_t registers[Unwinder::kRegisterCount];
  std::uintptr_t pcs[64];
  for (std::uint64_t garbage : {0x4141414141414141ULL, 0x10ULL, ~0ULL, 0xfffffffffffff000ULL}) {
    std::fill(std::begin(registers), std::end(registers), garbage);
    const int n = Unwinder::get().unwind(registers, stack.data(), stack.size(), pcs, 64);
    EXPECT_LE(n, 1) << std::hex << garbage;
  }
  // A real IP and SP over a stack that is not theirs: the return address found is no code, so
  // the stack ends before it.
  Capture c;
  outer(c, 0);
  std::fill(std::begin(registers), std::end(registers), 0x4141414141414141ULL);
  registers[8] = c.registers[8];
  registers[7] = c.registers[7];
  EXPECT_EQ(Unwinder::get().unwind(registers, stack.data(), stack.size(), pcs, 64), 1);
  std::fill(std::begin(registers), std::end(registers), 0);
  EXPECT_EQ(Unwinder::get().unwind(registers, stack.data(), stack.size(), pcs, 64), 0) << "ip 0";
}

TEST(CopiedStackUnwinder, TwoThreadsAtOnce) {
  SKIP_WITHOUT_LIBUNWIND();
  Capture c;
  outer(c, 0);
  std::uintptr_t expected[64];
  const int n = unwind(c, c.stack.size(), expected, 64);
  ASSERT_GT(n, 4);
  auto check = [&] {
    for (int i = 0; i < 300; ++i) {
      std::uintptr_t pcs[64];
      ASSERT_EQ(unwind(c, c.stack.size(), pcs, 64), n);
      ASSERT_TRUE(std::equal(pcs, pcs + n, expected));
    }
  };
  std::thread other(check);
  check();
  other.join();
}

// The return address into through_realigned_frame (below), for the test to see walks cross it.
std::atomic<std::uintptr_t> g_return_into_realigned{0};

// Library code of every kind under the samples: sorting strings, formatting, regular expressions,
// a tree, allocation (libstdc++, libc, this test; none with frame pointers).
[[gnu::noinline]] std::uint64_t varied_work(int round) {
  g_return_into_realigned.store(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)), std::memory_order_relaxed);
  std::vector<std::string> words;
  char buf[64];
  for (int i = 0; i < 400; ++i) {
    std::snprintf(buf, sizeof buf, "w%08x-%d", static_cast<unsigned>((i + round) * 2654435761u), i % 7);
    words.emplace_back(buf);
  }
  std::sort(words.begin(), words.end());
  static const std::regex pattern("w[0-9a-f]{3}7.*-[35]");
  std::map<std::string, int> tree;
  std::uint64_t hits = 0;
  for (const auto& w : words) {
    hits += std::regex_search(w, pattern);
    tree[w.substr(1, 5)] += 1;
  }
  return hits + tree.size();
}

// A frame GCC realigns through a DRAP register (an over-aligned local and alloca): its CFA is an
// expression that reads the caller's stack pointer from the stack, and %rbp is saved where %rbp
// points, the shape of big functions in the demo. Every sample below passes through it.
[[gnu::noinline]] std::uint64_t through_realigned_frame(int round) {
  alignas(64) volatile unsigned char aligned[64] = {};
  auto* extra = static_cast<volatile unsigned char*>(__builtin_alloca(static_cast<std::size_t>(16 + (round & 15))));
  extra[0] = 1;
  aligned[round & 63] = extra[0];
  return varied_work(round) + aligned[round & 63];
}

TEST(CopiedStackUnwinder, RulesAndLibunwindGiveTheSameFramesForKernelSamples) {
  SKIP_WITHOUT_LIBUNWIND();
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::atomic<std::uint64_t> sink{0};
  std::thread worker([&] {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    for (int round = 0; !stop.load(std::memory_order_relaxed); ++round) sink += through_realigned_frame(round);
  });
  while (tid.load() == 0) std::this_thread::yield();
  PerfSampleRing::Options options;
  options.stacks = PerfSampleRing::Stacks::copied_stack;
  options.sample_regs_user = Unwinder::kSampleRegsUser;
  options.data_pages = PerfSampleRing::pages_for(options, 64);
  std::string error;
  int error_number = 0;
  auto ring = PerfSampleRing::open(tid.load(), options, error, error_number);
  if (!ring || !ring->enable()) {
    stop = true;
    worker.join();
    GTEST_SKIP() << "perf_event_open refused here: " << error;
  }
  const Unwinder::WalkCounts before = Unwinder::get().walk_counts();
  int samples = 0, differing = 0, deep = 0, crossing = 0;
  std::string first_difference;
  const PerfSampleRing::Unwind unwind = [&](const std::uint64_t* registers, const unsigned char* stack, std::size_t size,
                                            std::uintptr_t* pcs, int max) {
    std::uintptr_t reference[64];
    const int n = Unwinder::get().unwind(registers, stack, size, pcs, max);
    const int m = Unwinder::get().unwind_with_libunwind(registers, stack, size, reference, std::min(max, 64));
    ++samples;
    deep += n >= 4;
    // Past the realigned frame: its return address and a frame beyond it.
    const std::uintptr_t* into = std::find(pcs, pcs + n, g_return_into_realigned.load(std::memory_order_relaxed));
    crossing += into + 1 < pcs + n;
    if (n != m || !std::equal(pcs, pcs + n, reference)) {
      if (differing++ == 0) {
        char b[160];
        std::snprintf(b, sizeof b, "%d frames against libunwind's %d, first pc %#lx", n, m, static_cast<unsigned long>(pcs[0]));
        first_difference = b;
      }
    }
    return n;
  };
  // About 600 samples of the worker's CPU time, read while it runs.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (samples < 600 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ring->read(ring->position(), unwind, [](const PerfSampleRing::Sample&) {});
  }
  ring->disable();
  stop = true;
  worker.join();
  const Unwinder::WalkCounts after = Unwinder::get().walk_counts();
  ASSERT_GE(samples, 100);
  EXPECT_EQ(differing, 0) << first_difference << " (" << differing << " of " << samples << " samples)";
  EXPECT_GT(deep, samples / 2) << "most samples reach the worker's frames and beyond";
  EXPECT_GT(crossing, samples / 2) << "most samples are unwound through the realigned frame";
  const auto by_rules = after.by_rules - before.by_rules, by_libunwind = after.by_libunwind - before.by_libunwind;
  const auto cfi_rows = after.cfi_rows - before.cfi_rows, probes = after.probes - before.probes;
  std::printf("[ copied-stack unwind ] %d kernel samples: %llu walked by cached rules, %llu by libunwind; rules: %llu CFI rows read, "
              "%llu addresses asked of libunwind\n",
              samples, static_cast<unsigned long long>(by_rules), static_cast<unsigned long long>(by_libunwind - static_cast<unsigned>(samples)),
              static_cast<unsigned long long>(cfi_rows), static_cast<unsigned long long>(probes));
  EXPECT_GT(cfi_rows, probes) << "rules come from the CFI; libunwind is asked only where it has another shape";
  // Release: 0 to 3 of 600 left to libunwind; ASan (frame-pointer frames, its interceptors): ~7 %.
  EXPECT_GT(by_rules, static_cast<std::uint64_t>(samples) * 3 / 4) << "the rules walk nearly every sample";
}

// The walk's rules are read from each module's CFI by elfutils; libunwind is the reference for what
// a step does. At every byte of real code (this test's own functions, the realigned frame among
// them, and stretches of libc and libstdc++ built by Debian) the rule the walk takes must be
// libunwind's step, most of them must come from CFI rows, and a row must serve many addresses.
TEST(CopiedStackUnwinder, RulesFromTheCfiAreLibunwindsSteps) {
  SKIP_WITHOUT_LIBUNWIND();
  struct Stretch {
    const char* what;
    std::uintptr_t begin;
    std::size_t bytes;
  };
  const Stretch stretches[] = {
      {"varied_work", reinterpret_cast<std::uintptr_t>(&varied_work), 2048},
      {"through_realigned_frame", reinterpret_cast<std::uintptr_t>(&through_realigned_frame), 1024},
      {"qsort", reinterpret_cast<std::uintptr_t>(::dlsym(RTLD_DEFAULT, "qsort")), 4096},
      {"fwrite", reinterpret_cast<std::uintptr_t>(::dlsym(RTLD_DEFAULT, "fwrite")), 2048},
      {"std::locale::classic", reinterpret_cast<std::uintptr_t>(::dlsym(RTLD_DEFAULT, "_ZNSt6locale7classicEv")), 4096},
  };
  std::size_t compared = 0, stretches_compared = 0;
  for (const Stretch& s : stretches) {
    if (s.begin == 0) {  // a library built otherwise (libc++, a static libstdc++)
      std::printf("[ copied-stack unwind ] %s: not found, left out\n", s.what);
      continue;
    }
    const Unwinder::WalkCounts before = Unwinder::get().walk_counts();
    const Unwinder::RuleComparison c = Unwinder::get().compare_rules_with_libunwind(s.begin, s.begin + s.bytes);
    const std::uint64_t rows_read = Unwinder::get().walk_counts().cfi_rows - before.cfi_rows;
    EXPECT_EQ(c.different, 0u) << s.what << ": first at +" << (c.first_different - s.begin) << " (" << c.different
                               << " of " << c.compared << " addresses)";
    EXPECT_GT(c.from_rows, s.bytes / 2) << s.what << ": most rules come from the CFI (" << c.compared << " compared)";
    EXPECT_LT(rows_read * 4, c.from_rows) << s.what << ": a row serves many addresses";
    compared += c.compared;
    ++stretches_compared;
  }
  EXPECT_GE(stretches_compared, 3u);
  std::printf("[ copied-stack unwind ] %zu addresses: the CFI's rule equals libunwind's step\n", compared);
}

}  // namespace copied_stack_test
}  // namespace codeprof::sampling
