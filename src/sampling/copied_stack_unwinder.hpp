#pragma once
// Unwinds a sample taken by the kernel rather than by a signal handler: perf_event_open with
// PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER (what `perf record --call-graph dwarf` asks for)
// hands over the sampled thread's user registers and a copy of the top of its user stack; this
// turns the pair into program counters on another thread of the same process, with the DWARF CFI
// of .eh_frame (Debian builds without frame pointers, so walking %rbp is not an option).
//
// libunwind's generic ("remote") unwinder does the CFI work; it is loaded with dlopen(RTLD_LOCAL)
// and never linked, for the reason in local_unwinder.hpp (its _Unwind_* exports would break C++
// exceptions beside PyTorch). Memory it asks for comes from the stack copy, or from the loaded
// modules' own PT_LOAD segments (their .eh_frame_hdr, .eh_frame and code): it never touches an
// address that could fault, so garbage registers give a short stack, never a crash.
//
// libunwind is slow to call per frame here (its cache lock blocks all signals: two system calls a
// frame), so frames are walked by rules of the shape nearly all compiled code has (CFA = %rsp or
// %rbp + offset, return address and saved %rbp at offsets from it) or that of a frame GCC realigns
// through a DRAP register (CFA read from the slot at %rbp - 8, %rbp saved at %rbp): about 0.25 us
// for 15 frames against 5.5 to 8 us. Each rule is read from the module's CFI with elfutils (libdw:
// no lock; system calls only to map a module's file, once), kept for the whole row of the CFI it
// belongs to; where the CFI cannot be read (no file on disk, as for the vDSO, or no build ID to
// match the file with the loaded image) libunwind is asked what its step does at that address.
// Frames of any other shape are walked by libunwind itself.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace codeprof::sampling {

class CopiedStackUnwinder {
 public:
  // perf_event_attr::sample_regs_user: bits of asm/perf_regs.h's x86-64 numbering. AX..IP are bits
  // 0-8, R8..R15 bits 16-23 (FLAGS and the segment registers, 9-15, are useless to an unwinder).
  // All general registers, not only the callee-saved ones (BX BP SP IP R12-R15) the CFI of an
  // ordinary call frame needs: a frame interrupted by a signal restores every register from the
  // stack, and the caller-saved ones cost the ring 64 bytes a sample.
  static constexpr std::uint64_t kSampleRegsUser = 0x1ffULL | (0xffULL << 16);
  static constexpr int kRegisterCount = std::popcount(kSampleRegsUser);  // 17

  // A sample's PERF_SAMPLE_REGS_USER part as the kernel writes it: the ABI word
  // (PERF_SAMPLE_REGS_ABI_64 for a 64-bit thread, 0 when the sample hit no user context), then the
  // requested registers in ascending bit order: AX BX CX DX SI DI BP SP IP R8 ... R15.
  struct Registers {
    std::uint64_t abi;
    std::uint64_t values[kRegisterCount];
  };

  // Loads libunwind once (thread-safe); the library stays loaded for the life of the process.
  static const CopiedStackUnwinder& get();
  bool ok() const noexcept { return state_ != nullptr; }
  std::string error;  // why it is not ok

  // Program counters innermost first (the sampled IP, then return addresses), at most `max`;
  // returns how many. `register_values`: Registers::values. `stack`: the copy that began at the
  // sampled SP, `size` its valid bytes (perf's dyn_size). The walk ends at ip 0, at a step that
  // does not move, at `max`, or where a frame needs memory outside the copy (truncated, never
  // guessed from a fault). Not for signal handlers (it locks and may allocate); calls from several
  // threads are safe but run one at a time (a mutex: the module cache and libunwind's address
  // space are shared).
  int unwind(const std::uint64_t* register_values, const unsigned char* stack, std::size_t size,
             std::uintptr_t* pcs, int max) const noexcept;
  // The same with libunwind for every frame, not the rules kept per code address first (tests
  // compare the two).
  int unwind_with_libunwind(const std::uint64_t* register_values, const unsigned char* stack, std::size_t size,
                            std::uintptr_t* pcs, int max) const noexcept;
  // How many walks each path finished, since the process started (unwind_with_libunwind's count
  // as libunwind's).
  struct WalkCounts {
    std::uint64_t by_rules = 0, by_libunwind = 0;
    // Where the rules came from: rows read from a module's CFI, and addresses libunwind was asked
    // about (no CFI could be read there, or a row of another shape).
    std::uint64_t cfi_rows = 0, probes = 0;
  };
  WalkCounts walk_counts() const noexcept;
  // At each address in [begin, end) of loaded code, the rule the walk takes from the CFI rows it
  // keeps against what libunwind's step does there, where both have the simple shape (tests: the
  // two must agree). The rows read stay kept, as a walk's would.
  struct RuleComparison {
    std::size_t compared = 0, different = 0;
    std::size_t from_rows = 0;  // of the compared, those whose rule came from a CFI row
    std::uintptr_t first_different = 0;
  };
  RuleComparison compare_rules_with_libunwind(std::uintptr_t begin, std::uintptr_t end) const noexcept;
  // The same from the whole REGS_USER part: 0 frames unless its ABI is PERF_SAMPLE_REGS_ABI_64.
  int unwind(const Registers& registers, const unsigned char* stack, std::size_t size,
             std::uintptr_t* pcs, int max) const noexcept;

  struct State;  // libunwind's entry points, its address space, the module cache (in the .cpp)

 private:
  int unwind(const std::uint64_t* register_values, const unsigned char* stack, std::size_t size,
             std::uintptr_t* pcs, int max, bool by_rules) const noexcept;
  CopiedStackUnwinder();
  ~CopiedStackUnwinder();
  std::unique_ptr<State> state_;
};

}  // namespace codeprof::sampling
