#include "sampling/copied_stack_unwinder.hpp"

// No UNW_LOCAL_ONLY: the remote API. Only libunwind's types and constants are used here; every
// entry point is looked up by its explicit _Ux86_64_ name and called through our own pointer
// types, so it does not matter which prefix the header's unw_* macros got (in a unity batch
// local_unwinder.cpp may have included the header first, with UNW_LOCAL_ONLY; it spells its own
// names out too).
#include <libunwind.h>

#include <asm/perf_regs.h>
#include <dlfcn.h>
#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <libelf.h>
#include <link.h>
#include <pthread.h>
#include <linux/perf_event.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/fibonacci_hash.hpp"

namespace codeprof::sampling {
// Named, not anonymous: in a unity batch this file shares a translation unit with others.
namespace copied_stack_detail {

static_assert(CopiedStackUnwinder::kSampleRegsUser ==
              ((1ULL << PERF_REG_X86_AX) | (1ULL << PERF_REG_X86_BX) | (1ULL << PERF_REG_X86_CX) |
               (1ULL << PERF_REG_X86_DX) | (1ULL << PERF_REG_X86_SI) | (1ULL << PERF_REG_X86_DI) |
               (1ULL << PERF_REG_X86_BP) | (1ULL << PERF_REG_X86_SP) | (1ULL << PERF_REG_X86_IP) |
               (1ULL << PERF_REG_X86_R8) | (1ULL << PERF_REG_X86_R9) | (1ULL << PERF_REG_X86_R10) |
               (1ULL << PERF_REG_X86_R11) | (1ULL << PERF_REG_X86_R12) | (1ULL << PERF_REG_X86_R13) |
               (1ULL << PERF_REG_X86_R14) | (1ULL << PERF_REG_X86_R15)));

// Where libunwind's x86-64 register number (UNW_X86_64_RAX .. UNW_X86_64_RIP, DWARF order) sits
// in the sample: the kernel writes the requested registers in ascending perf bit order.
constexpr int sample_index(int perf_bit) {
  return std::popcount(CopiedStackUnwinder::kSampleRegsUser & ((1ULL << perf_bit) - 1));
}
constexpr int kSampleIndexOfUnwRegister[] = {
    sample_index(PERF_REG_X86_AX),  sample_index(PERF_REG_X86_DX),  sample_index(PERF_REG_X86_CX),
    sample_index(PERF_REG_X86_BX),  sample_index(PERF_REG_X86_SI),  sample_index(PERF_REG_X86_DI),
    sample_index(PERF_REG_X86_BP),  sample_index(PERF_REG_X86_SP),  sample_index(PERF_REG_X86_R8),
    sample_index(PERF_REG_X86_R9),  sample_index(PERF_REG_X86_R10), sample_index(PERF_REG_X86_R11),
    sample_index(PERF_REG_X86_R12), sample_index(PERF_REG_X86_R13), sample_index(PERF_REG_X86_R14),
    sample_index(PERF_REG_X86_R15), sample_index(PERF_REG_X86_IP)};
static_assert(UNW_X86_64_RIP == 16 && std::size(kSampleIndexOfUnwRegister) == 17);

// libunwind-x86_64's entry points (the unw_* prototypes of libunwind-common.h, spelled out).
using CreateAddrSpace = unw_addr_space_t (*)(unw_accessors_t*, int byte_order);
using SetCachingPolicy = int (*)(unw_addr_space_t, unw_caching_policy_t);
using FlushCache = void (*)(unw_addr_space_t, unw_word_t lo, unw_word_t hi);
using InitRemote = int (*)(unw_cursor_t*, unw_addr_space_t, void* arg);
using Step = int (*)(unw_cursor_t*);
using GetReg = int (*)(unw_cursor_t*, int, unw_word_t*);
// Exported but in no header: binary search of an .eh_frame_hdr table, then the FDE and CIE.
using SearchUnwindTable = int (*)(unw_addr_space_t, unw_word_t ip, unw_dyn_info_t*, unw_proc_info_t*,
                                  int need_unwind_info, void* arg);

// A readable PT_LOAD segment of a loaded module, widened to whole 8-byte words: libunwind reads
// aligned words around the bytes it wants, and the loader maps whole pages, so the widening never
// leaves mapped memory.
struct Segment {
  std::uintptr_t start, end;
  std::size_t module;
  bool executable;
};

// One instruction's unwind rule in the shapes compilers give nearly all code: the CFA is %rsp or
// %rbp plus an offset (or, in a frame realigned through a DRAP register, read from a slot near
// %rbp), the return address is saved at an offset from it, and the caller's %rbp is untouched or
// saved in a slot near the CFA (or near %rbp). Read from the module's CFI by elfutils
// (State::cfi_row), or learnt from libunwind itself where that cannot be read (State::probe).
struct FrameRule {
  bool simple = false;     // false: another shape (another expression, a signal frame)
  bool outermost = false;  // the return address is undefined: the first frame of a thread
  // The CFA: %rsp + offset, %rbp + offset, or the word at %rbp + offset (a frame realigned through
  // a DRAP register: GCC keeps the caller's stack pointer in a slot below the saved %rbp).
  enum class Cfa : std::uint8_t { rsp, rbp, at_rbp } cfa = Cfa::rsp;
  std::int64_t cfa_offset = 0;
  std::int64_t return_address_offset = 0;  // from the CFA
  // Where the caller's %rbp is: unchanged, in a slot at the CFA + offset, in a slot at this frame's
  // %rbp + offset (a realigned frame), or nowhere.
  enum class Rbp : std::uint8_t { same, saved, saved_at_rbp, undefined } rbp = Rbp::same;
  std::int64_t rbp_offset = 0;
  bool operator==(const FrameRule&) const = default;
};

// A module's .eh_frame as elfutils reads it from the module's file, mapped whole (the descriptor
// is closed once the file is mapped: a program with hundreds of libraries keeps no descriptors).
struct ModuleCfi {
  Elf* elf = nullptr;
  Dwarf_CFI* cfi = nullptr;
  ModuleCfi() = default;
  ModuleCfi(const ModuleCfi&) = delete;
  ModuleCfi& operator=(const ModuleCfi&) = delete;
  ~ModuleCfi() {
    if (cfi) dwarf_cfi_end(cfi);
    if (elf) elf_end(elf);
  }
};

struct Module {
  // What libunwind's table search needs; format stays 0 (UNW_INFO_FORMAT_DYNAMIC) when the module
  // has no usable .eh_frame_hdr.
  unw_dyn_info_t unwind_table{};
  std::string file;          // the module's file; empty where there is none (the vDSO)
  std::uintptr_t bias = 0;   // dlpi_addr: a run-time address minus the file's
  std::string build_id;      // the GNU build ID note of the loaded image, empty if it has none
  bool cfi_opened = false;   // cfi below was tried (it stays null where it cannot be read)
  std::unique_ptr<ModuleCfi> cfi;
};

// The GNU build ID in a loaded module's PT_NOTE segments, which the loader maps.
std::string loaded_build_id(const dl_phdr_info& info) {
  for (int i = 0; i < info.dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info.dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* at = reinterpret_cast<const unsigned char*>(info.dlpi_addr + ph.p_vaddr);
    const unsigned char* end = at + ph.p_memsz;
    // Notes are padded to the segment's alignment: 4, or 8 in a segment of 8-aligned notes.
    const std::size_t pad = ph.p_align == 8 ? 8 : 4;
    auto aligned = [pad](std::size_t n) { return (n + pad - 1) & ~(pad - 1); };
    while (end - at >= static_cast<std::ptrdiff_t>(sizeof(ElfW(Nhdr)))) {
      ElfW(Nhdr) note;
      std::memcpy(&note, at, sizeof note);
      const unsigned char* name = at + sizeof note;
      if (static_cast<std::size_t>(end - name) < aligned(note.n_namesz)) break;
      const unsigned char* desc = name + aligned(note.n_namesz);
      if (static_cast<std::size_t>(end - desc) < note.n_descsz) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0)
        return {reinterpret_cast<const char*>(desc), note.n_descsz};
      if (static_cast<std::size_t>(end - desc) < aligned(note.n_descsz)) break;
      at = desc + aligned(note.n_descsz);
    }
  }
  return {};
}

// The DWARF register numbers of x86-64 the rules use.
constexpr int kDwarfRbp = 6, kDwarfRsp = 7;

// `op` reads register + offset (DW_OP_bregN or DW_OP_bregx).
bool register_plus_offset(const Dwarf_Op& op, int& reg, std::int64_t& offset) noexcept {
  if (op.atom >= DW_OP_breg0 && op.atom <= DW_OP_breg31) {
    reg = op.atom - DW_OP_breg0;
    offset = static_cast<std::int64_t>(op.number);
    return true;
  }
  if (op.atom == DW_OP_bregx) {
    reg = static_cast<int>(op.number);
    offset = static_cast<std::int64_t>(op.number2);
    return true;
  }
  return false;
}

// A register's location "the slot at CFA + offset", as dwarf_frame_register spells it.
bool slot_at_cfa(const Dwarf_Op* ops, std::size_t nops, std::int64_t& offset) noexcept {
  if (nops == 0 || ops[0].atom != DW_OP_call_frame_cfa) return false;
  if (nops == 1) {
    offset = 0;
    return true;
  }
  if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
    offset = static_cast<std::int64_t>(ops[1].number);
    return true;
  }
  if (nops == 3 && ops[1].atom == DW_OP_consts && ops[2].atom == DW_OP_plus) {
    offset = static_cast<std::int64_t>(ops[1].number);
    return true;
  }
  return false;
}

// The rule of one row of CFI (elfutils' Dwarf_Frame), or a rule that is not simple where the row
// has another shape (a signal frame, another expression, a CFA from another register).
FrameRule rule_of(Dwarf_Frame* frame, int return_address_register, bool signal_frame) noexcept {
  if (signal_frame) return {};
  FrameRule rule;
  Dwarf_Op* ops = nullptr;
  std::size_t nops = 0;
  int reg = -1;
  if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops == 0) return {};
  if (nops == 1 && register_plus_offset(ops[0], reg, rule.cfa_offset) && (reg == kDwarfRsp || reg == kDwarfRbp)) {
    rule.cfa = reg == kDwarfRsp ? FrameRule::Cfa::rsp : FrameRule::Cfa::rbp;
  } else if (nops == 2 && register_plus_offset(ops[0], reg, rule.cfa_offset) && reg == kDwarfRbp &&
             ops[1].atom == DW_OP_deref) {
    rule.cfa = FrameRule::Cfa::at_rbp;  // a frame realigned through a DRAP register
  } else {
    return {};
  }
  Dwarf_Op mem[3];
  if (dwarf_frame_register(frame, return_address_register, mem, &ops, &nops) != 0) return {};
  if (nops == 0) {
    if (ops != mem) return {};  // "same value": no shape a call leaves
    return FrameRule{.simple = true, .outermost = true};  // undefined: the thread's first frame
  }
  if (!slot_at_cfa(ops, nops, rule.return_address_offset)) return {};
  if (dwarf_frame_register(frame, kDwarfRbp, mem, &ops, &nops) != 0) return {};
  if (nops == 0) {
    rule.rbp = ops == mem ? FrameRule::Rbp::undefined : FrameRule::Rbp::same;
  } else if (slot_at_cfa(ops, nops, rule.rbp_offset)) {
    rule.rbp = FrameRule::Rbp::saved;
  } else if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa && register_plus_offset(ops[1], reg, rule.rbp_offset) &&
             reg == kDwarfRbp) {
    // A DW_CFA_expression rule; elfutils puts the CFA first, as the expression starts with it pushed.
    rule.rbp = FrameRule::Rbp::saved_at_rbp;
  } else {
    return {};
  }
  rule.simple = true;
  return rule;
}

struct Sample {  // one unwind's sample: what the accessors read
  const std::uint64_t* registers;
  const unsigned char* stack;
  std::uintptr_t sp;
  std::size_t size;
  CopiedStackUnwinder::State* state;
  // Non-zero for a probe (State::probe): memory outside the modules reads as made_up_word(its
  // address, this key).
  std::uint64_t probe_key = 0;
};

// A probe's made-up memory: each address reads as a word no other address reads as, and from
// which the address comes back (made_up_address). Multiplying first makes it non-linear: a rule
// that adds a constant to a word it read (CFA = *(%rbp) + 8) then lands nowhere near a slot, where
// with address ^ key alone it would pass for a read at the shifted address.
constexpr std::uint64_t kMadeUpFactor = 0x9e3779b97f4a7c15ull;  // odd: invertible modulo 2^64
constexpr std::uint64_t inverse_modulo_2_64(std::uint64_t odd) {
  std::uint64_t x = odd;  // Newton's iteration doubles the correct low bits each step: 3, 6, ... 96
  for (int i = 0; i < 5; ++i) x *= 2 - odd * x;
  return x;
}
constexpr std::uint64_t kMadeUpInverse = inverse_modulo_2_64(kMadeUpFactor);
static_assert(kMadeUpFactor * kMadeUpInverse == 1);
constexpr std::uint64_t made_up_word(std::uint64_t address, std::uint64_t key) { return (address * kMadeUpFactor) ^ key; }
constexpr std::uint64_t made_up_address(std::uint64_t word, std::uint64_t key) { return (word ^ key) * kMadeUpInverse; }

// The word at `address` if the stack copy holds all of it.
bool read_copy(const Sample& sample, std::uintptr_t address, std::uint64_t& value) noexcept {
  if (address < sample.sp || address - sample.sp > sample.size || sample.size - (address - sample.sp) < sizeof value)
    return false;
  __builtin_memcpy(&value, sample.stack + (address - sample.sp), sizeof value);
  return true;
}

// Module memory is read with a plain load, outside ASan's view: libunwind asks for whole aligned
// words, which may overlap an instrumented global's redzone next to the bytes it needs.
__attribute__((no_sanitize_address)) unw_word_t read_module_word(std::uintptr_t address) {
  unw_word_t value;
  __builtin_memcpy(&value, reinterpret_cast<const void*>(address), sizeof value);
  return value;
}

// Size of a fixed-size DWARF pointer encoding (DW_EH_PE_* low nibble), 0 for the variable ones.
std::size_t encoded_size(unsigned char encoding) {
  switch (encoding & 0x0f) {
    case 0x00: case 0x04: case 0x0c: return 8;  // absptr, udata8, sdata8
    case 0x03: case 0x0b: return 4;             // udata4, sdata4
    case 0x02: case 0x0a: return 2;             // udata2, sdata2
    default: return 0;
  }
}

}  // namespace copied_stack_detail

using namespace copied_stack_detail;

struct CopiedStackUnwinder::State {
  CreateAddrSpace create_addr_space = nullptr;
  SetCachingPolicy set_caching_policy = nullptr;
  FlushCache flush_cache = nullptr;
  InitRemote init_remote = nullptr;
  Step step = nullptr;
  GetReg get_reg = nullptr;
  SearchUnwindTable search_unwind_table = nullptr;
  unw_addr_space_t address_space = nullptr;

  std::mutex mutex;  // one unwind at a time: everything below, and libunwind's cursor callbacks
  WalkCounts counts;
  std::vector<Module> modules;
  std::vector<Segment> segments;  // sorted by start
  // dl_phdr_info's load and unload counters when `modules` was built; they change with every
  // dlopen/dlclose, which is how a stale cache (an ip in no known module, or in a new one mapped
  // where an old one was) is noticed without a lookup miss.
  unsigned long long loads = ~0ULL, unloads = ~0ULL;

  // The segment of the last lookup: libunwind reads a table or an FDE a few bytes at a time, each
  // read a lookup, nearly all of them in the segment of the read before.
  mutable const Segment* last_segment = nullptr;

  const Segment* segment_holding(std::uintptr_t address, std::size_t bytes) const noexcept {
    if (const Segment* s = last_segment; s && address >= s->start && address < s->end && bytes <= s->end - address) return s;
    auto after = std::upper_bound(segments.begin(), segments.end(), address,
                                  [](std::uintptr_t a, const Segment& s) { return a < s.start; });
    if (after == segments.begin()) return nullptr;
    const Segment& s = *(after - 1);
    if (address >= s.end || bytes > s.end - address) return nullptr;
    last_segment = &s;
    return &s;
  }

  // A module's readable segments, and where its .eh_frame_hdr is (parsed once all are sorted).
  void add_module(const dl_phdr_info& info) {
    const std::size_t index = modules.size();
    Module& module = modules.emplace_back();
    // The first module is the program (its name is empty); a name that is no path is the vDSO's.
    if (index == 0 && info.dlpi_name[0] == '\0') module.file = "/proc/self/exe";
    else if (info.dlpi_name[0] == '/') module.file = info.dlpi_name;
    module.bias = info.dlpi_addr;
    module.build_id = loaded_build_id(info);
    std::uintptr_t lowest = UINTPTR_MAX, highest = 0;
    for (int i = 0; i < info.dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info.dlpi_phdr[i];
      const std::uintptr_t start = info.dlpi_addr + ph.p_vaddr;
      if (ph.p_type == PT_GNU_EH_FRAME) module.unwind_table.u.rti.segbase = start;
      if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_R) || ph.p_memsz == 0) continue;
      const std::uintptr_t begin = start & ~std::uintptr_t{7};
      const std::uintptr_t end = (start + ph.p_memsz + 7) & ~std::uintptr_t{7};
      segments.push_back({begin, end, index, (ph.p_flags & PF_X) != 0});
      lowest = std::min(lowest, begin);
      highest = std::max(highest, end);
    }
    // libunwind asserts that the ip it searches for lies in [start_ip, end_ip).
    module.unwind_table.start_ip = lowest;
    module.unwind_table.end_ip = highest;
  }

  // Makes `module` searchable from its .eh_frame_hdr: version 1, the encodings of eh_frame_ptr,
  // fde_count and the table, then eh_frame_ptr, fde_count, and the sorted (initial location, FDE)
  // pairs libunwind searches. Only a datarel|sdata4 table (0x3b, what every linker writes) can be
  // searched remotely; a module without one gets no DWARF unwinding (see find_proc_info).
  void parse_eh_frame_hdr(Module& module) const noexcept {
    unw_dyn_info_t& di = module.unwind_table;
    const std::uintptr_t hdr = di.u.rti.segbase;
    auto byte = [](std::uintptr_t a) { return *reinterpret_cast<const unsigned char*>(a); };
    if (!hdr || !segment_holding(hdr, 4) || byte(hdr) != 1 || byte(hdr + 3) != 0x3b) return;
    const std::size_t pointer_size = encoded_size(byte(hdr + 1));
    const std::size_t count_size = encoded_size(byte(hdr + 2));
    const std::uintptr_t count_at = hdr + 4 + pointer_size;
    if (!pointer_size || !count_size || !segment_holding(count_at, count_size)) return;
    std::uint64_t fde_count = 0;
    for (std::size_t i = 0; i < count_size; ++i) fde_count |= std::uint64_t{byte(count_at + i)} << (8 * i);
    const std::uintptr_t table = count_at + count_size;
    if (fde_count == 0 || fde_count > (UINTPTR_MAX >> 4) || !segment_holding(table, fde_count * 8)) return;
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    // di.u.rti.segbase stays .eh_frame_hdr's address: the table's offsets are relative to it.
    di.u.rti.table_data = table;
    di.u.rti.table_len = fde_count * 8 / sizeof(unw_word_t);  // counted in words, not entries
  }

  // Rebuilds the module cache. Runs inside dl_iterate_phdr's callback (see unwind): the nested
  // dl_iterate_phdr takes the loader's recursive lock again. No exception may cross glibc's frames
  // (its lock would stay held), so the callback catches them.
  void refresh() noexcept {
    last_segment = nullptr;
    // The CFI already read, by module image: a module loaded at the same place from the same file
    // with the same build ID takes it back below.
    std::vector<Module> before = std::move(modules);
    modules.clear();
    segments.clear();
    bool out_of_memory = false;
    std::pair<State*, bool*> context{this, &out_of_memory};
    ::dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* arg) {
          auto [self, failed] = *static_cast<std::pair<State*, bool*>*>(arg);
          try {
            self->add_module(*info);
            return 0;
          } catch (...) {
            *failed = true;
            return 1;
          }
        },
        &context);
    if (out_of_memory) {  // no modules: nothing is read outside the copy, stacks stop early
      modules.clear();
      segments.clear();
    }
    std::sort(segments.begin(), segments.end(),
              [](const Segment& a, const Segment& b) { return a.start < b.start; });
    for (Module& module : modules) {
      parse_eh_frame_hdr(module);
      for (Module& old : before)
        if (old.cfi_opened && old.file == module.file && old.bias == module.bias && old.build_id == module.build_id) {
          module.cfi_opened = true;
          module.cfi = std::move(old.cfi);
          old.cfi_opened = false;
          break;
        }
    }
    rows.clear();
    rules.clear();
    callers.fill({});
    leaves.fill({});
    // libunwind caches each ip's unwind rules; a module set that changed may have put other code there.
    flush_cache(address_space, 0, 0);
  }

  // Before dl_iterate_phdr: elfutils keeps its error code in thread-local storage, which, where
  // codeprof itself was loaded with dlopen (the Python extension), glibc allocates at a thread's
  // first use under its TLS lock. The first use is here, outside the loader's lock, not in a walk.
  static void touch_thread_state() noexcept {
    (void)dwarf_errno();
    (void)elf_errno();
  }

  // Inside dl_iterate_phdr's callback: rebuilds the cache when the loader's counters (in the first
  // module's info) moved since it was built.
  void refresh_if_changed(const dl_phdr_info& info) noexcept {
    if (info.dlpi_adds == loads && info.dlpi_subs == unloads) return;
    refresh();
    loads = info.dlpi_adds;
    unloads = info.dlpi_subs;
  }

  bool is_code(std::uintptr_t ip) const noexcept {
    const Segment* segment = segment_holding(ip, 1);
    return segment && segment->executable;
  }

  // Rules are looked up at a sampled IP, or at a return address minus one (the call: a call can be
  // a function's last instruction, and libunwind looks there too). A row of the CFI holds for a
  // range of addresses, often a whole loop, so rules read from the CFI are kept by row: the
  // sampled IPs in a hot loop, each a new address, find the row the first one read. Rules learnt
  // from libunwind are kept by the address they were learnt at.
  struct Row {
    std::uintptr_t end;  // the row holds [its key, end)
    FrameRule rule;
  };
  std::map<std::uintptr_t, Row> rows;
  std::unordered_map<std::uintptr_t, FrameRule> rules;
  static constexpr std::size_t kMaxRules = std::size_t{1} << 17;  // about 12 MiB; then started again

  // The module's CFI, opened at the first rule asked of it; null where it cannot be read: no file,
  // no .eh_frame, no build ID to tell the file is the image that was loaded, or another build ID
  // (rebuilt or upgraded since). Runs under the loader's lock (see unwind): nothing here loads a
  // library. Kept across refreshes (see refresh), so a dlopen does not open every module again.
  Dwarf_CFI* module_cfi(Module& module) noexcept {
    if (module.cfi_opened) return module.cfi ? module.cfi->cfi : nullptr;
    module.cfi_opened = true;
    if (module.file.empty() || module.build_id.empty()) return nullptr;
    auto opened = std::unique_ptr<ModuleCfi>(new (std::nothrow) ModuleCfi);
    if (!opened) return nullptr;
    const int fd = ::open(module.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    opened->elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
    // The whole file is mapped: libelf reads nothing more through the descriptor.
    if (opened->elf && elf_cntl(opened->elf, ELF_C_FDDONE) != 0) {
      elf_end(opened->elf);
      opened->elf = nullptr;
    }
    ::close(fd);
    if (!opened->elf) return nullptr;
    const void* id = nullptr;
    const ssize_t id_size = dwelf_elf_gnu_build_id(opened->elf, &id);
    if (id_size != static_cast<ssize_t>(module.build_id.size()) || std::memcmp(id, module.build_id.data(), module.build_id.size()) != 0)
      return nullptr;
    opened->cfi = dwarf_getcfi_elf(opened->elf);
    if (!opened->cfi) return nullptr;
    module.cfi = std::move(opened);
    return module.cfi->cfi;
  }

  // The rule of the CFI row holding `address`, and the row's addresses [start, end); false where
  // the CFI cannot be read there.
  bool cfi_row(std::uintptr_t address, FrameRule& rule, std::uintptr_t& start, std::uintptr_t& end) noexcept {
    const Segment* segment = segment_holding(address, 1);
    if (!segment) return false;
    Module& module = modules[segment->module];
    Dwarf_CFI* cfi = module_cfi(module);
    if (!cfi) return false;
    Dwarf_Frame* frame = nullptr;
    if (dwarf_cfi_addrframe(cfi, address - module.bias, &frame) != 0 || !frame) return false;
    Dwarf_Addr row_start = 0, row_end = 0;
    bool signal_frame = false;
    const int return_address_register = dwarf_frame_info(frame, &row_start, &row_end, &signal_frame);
    if (return_address_register >= 0) rule = rule_of(frame, return_address_register, signal_frame);
    std::free(frame);
    // After DW_CFA_restore_state elfutils (0.188) gives the start of the row that was remembered,
    // not of the restored one, which begins later. The start is kept only where the row found from
    // it ends where this one does (no row change between them); else the row starts here.
    const Dwarf_Addr at = address - module.bias;
    if (return_address_register >= 0 && row_start < at) {
      Dwarf_Frame* from_start = nullptr;
      Dwarf_Addr start_start = 0, start_end = 0;
      bool start_signal_frame = false;
      if (dwarf_cfi_addrframe(cfi, row_start, &from_start) != 0 || !from_start ||
          dwarf_frame_info(from_start, &start_start, &start_end, &start_signal_frame) < 0 || start_end != row_end)
        row_start = at;
      std::free(from_start);
    }
    start = row_start + module.bias;
    end = row_end + module.bias;
    return return_address_register >= 0 && start <= address && address < end;
  }

  // What a walk needs of a return address: whether it is code, and the rule at its call (null until
  // first needed), for the return addresses met last. Deep stacks repeat their outer frames sample
  // after sample; a slot here is one compare where `rows` costs a few cache misses and is_code a
  // binary search over every module's segments.
  struct Caller {
    std::uintptr_t address = 0;
    bool code = false;
    const FrameRule* rule = nullptr;  // into `rows` or `rules`: emptied whenever they are
  };
  static constexpr unsigned kCallerBits = 12;
  std::array<Caller, std::size_t{1} << kCallerBits> callers{};

  Caller& caller(std::uintptr_t return_address) noexcept {
    Caller& c = callers[core::fibonacci_slot(return_address, kCallerBits)];
    if (c.address != return_address) c = {return_address, is_code(return_address), nullptr};
    return c;
  }

  // The same for sampled IPs, whose rule is the one at the address itself: a hot loop's samples
  // come back to the same few instructions, each otherwise a search of `rows`.
  std::array<Caller, std::size_t{1} << kCallerBits> leaves{};

  Caller& leaf(std::uintptr_t ip) noexcept {
    Caller& c = leaves[core::fibonacci_slot(ip, kCallerBits)];
    if (c.address != ip) c = {ip, is_code(ip), nullptr};
    return c;
  }

  // What libunwind's step does at `address`, learnt from two steps over made-up registers and
  // memory: %rsp and %rbp far apart, every other register far from both, and every address outside
  // the modules reading as made_up_word(itself, a key). A rule of the simple shape moves the CFA,
  // the return address's slot and the saved %rbp's slot alike in both; so does a frame realigned
  // through a DRAP register (CFA read from %rbp - 8, %rbp saved at %rbp), whose CFA word gives its
  // slot's address back. Anything else (another expression, a signal frame restoring registers from
  // the stack, a CFA from another register) does not, and is left to libunwind.
  FrameRule probe(std::uintptr_t address) noexcept {
    constexpr std::uint64_t kSp[2] = {0x100000000000, 0x300000000000};
    constexpr std::uint64_t kBp[2] = {0x200000000000, 0x500000000000};
    constexpr std::uint64_t kKey[2] = {0x5a5a000000000000, 0x3c3c000000000000};
    constexpr std::int64_t kNear = std::int64_t{1} << 24;  // a frame is smaller than 16 MiB
    auto near = [](std::uint64_t a, std::uint64_t b, std::int64_t& offset) {
      offset = static_cast<std::int64_t>(a - b);
      return offset > -kNear && offset < kNear;
    };
    FrameRule learnt[2];
    for (int k = 0; k < 2; ++k) {
      std::uint64_t registers[CopiedStackUnwinder::kRegisterCount];
      for (int i = 0; i < CopiedStackUnwinder::kRegisterCount; ++i)
        registers[i] = 0x700000000000 + static_cast<std::uint64_t>(k) * 0x40000000000 + static_cast<std::uint64_t>(i) * 0x1000000000;
      registers[sample_index(PERF_REG_X86_IP)] = address;
      registers[sample_index(PERF_REG_X86_SP)] = kSp[k];
      registers[sample_index(PERF_REG_X86_BP)] = kBp[k];
      Sample sample{registers, nullptr, kSp[k], 0, this, kKey[k]};
      unw_cursor_t cursor;
      if (init_remote(&cursor, address_space, &sample) < 0) return {};
      const int stepped = step(&cursor);
      FrameRule& rule = learnt[k];
      if (stepped < 0) return {};
      if (stepped == 0) {
        rule.outermost = rule.simple = true;
        continue;
      }
      unw_word_t ip = 0, cfa = 0, bp = 0;
      if (get_reg(&cursor, UNW_REG_IP, &ip) < 0 || get_reg(&cursor, UNW_REG_SP, &cfa) < 0) return {};
      // A word read from made-up memory gives its address back: a CFA read from the stack is
      // then near %rbp, a return address or a saved %rbp near the slot it was read from.
      if (near(cfa, kSp[k], rule.cfa_offset)) {
        rule.cfa = FrameRule::Cfa::rsp;
      } else if (near(cfa, kBp[k], rule.cfa_offset)) {
        rule.cfa = FrameRule::Cfa::rbp;
      } else if (near(made_up_address(cfa, kKey[k]), kBp[k], rule.cfa_offset)) {
        rule.cfa = FrameRule::Cfa::at_rbp;
      } else {
        return {};
      }
      if (!near(made_up_address(ip, kKey[k]), cfa, rule.return_address_offset)) return {};
      if (get_reg(&cursor, UNW_X86_64_RBP, &bp) < 0) {
        rule.rbp = FrameRule::Rbp::undefined;
      } else if (bp == kBp[k]) {
        rule.rbp = FrameRule::Rbp::same;
      } else if (const std::uint64_t bp_slot = made_up_address(bp, kKey[k]); near(bp_slot, cfa, rule.rbp_offset)) {
        rule.rbp = FrameRule::Rbp::saved;
      } else if (near(bp_slot, kBp[k], rule.rbp_offset)) {
        rule.rbp = FrameRule::Rbp::saved_at_rbp;
      } else {
        return {};
      }
      rule.simple = true;
    }
    return learnt[0] == learnt[1] ? learnt[0] : FrameRule{};
  }

  // The rule of a row kept in `rows` that holds `address`, null if none does.
  const FrameRule* kept_row(std::uintptr_t address) const noexcept {
    auto row = rows.upper_bound(address);
    return row != rows.begin() && address < (--row)->second.end ? &row->second.rule : nullptr;
  }

  const FrameRule& rule_at(std::uintptr_t address) {
    if (const FrameRule* rule = kept_row(address)) return *rule;
    if (const auto it = rules.find(address); it != rules.end()) return it->second;
    if (rows.size() + rules.size() >= kMaxRules) {
      rows.clear();
      rules.clear();
      callers.fill({});
      leaves.fill({});
    }
    FrameRule rule;
    std::uintptr_t start = 0, end = 0;
    if (cfi_row(address, rule, start, end) && rule.simple) {
      ++counts.cfi_rows;
      return rows.emplace(start, Row{end, rule}).first->second.rule;
    }
    // No CFI to read, or a row of another shape: what libunwind's step does at this very address.
    // A PLT stub's CFA is an expression of the address itself (%rsp + 8, or + 16 past its push),
    // which at any one address has the simple shape.
    ++counts.probes;
    return rules.emplace(address, probe(address)).first->second;
  }

  // The walk by each frame's cached rule: a hash lookup a frame, no lock, no system call (libunwind
  // blocks every signal around each of its own cache lookups: two system calls a frame). -1 where a
  // frame's rule has another shape: libunwind then walks the whole sample. Both give the same
  // frames (tested on kernel samples), and end where libunwind's walk ends.
  int walk_by_rules(const Sample& sample, std::uintptr_t* pcs, int max) noexcept {
    std::uintptr_t ip = sample.registers[sample_index(PERF_REG_X86_IP)];
    std::uintptr_t sp = sample.sp;
    std::uint64_t bp = sample.registers[sample_index(PERF_REG_X86_BP)];
    bool bp_known = true;
    if (ip == 0) return 0;
    int n = 0;
    Caller* from = nullptr;  // ip's slot in `leaves`, then in `callers` once ip is a return address
    try {
      for (;;) {
        pcs[n++] = ip;
        if (n == max) return n;
        if (!from) {
          from = &leaf(ip);
          if (!from->code) return n;  // a return address was checked for code before it became ip
          if (!from->rule) from->rule = &rule_at(ip);  // may empty `leaves`: then set again
        } else if (!from->rule) {
          from->rule = &rule_at(ip - 1);  // may empty `callers`: then set again
        }
        const FrameRule& rule = *from->rule;
        if (!rule.simple) return -1;
        if (rule.outermost) return n;
        if (rule.cfa != FrameRule::Cfa::rsp && !bp_known) return -1;
        std::uintptr_t cfa = (rule.cfa == FrameRule::Cfa::rsp ? sp : bp) + static_cast<std::uintptr_t>(rule.cfa_offset);
        // A slot outside the copy ends the walk, as libunwind's read of it fails.
        if (rule.cfa == FrameRule::Cfa::at_rbp) {
          std::uint64_t word = 0;
          if (!read_copy(sample, cfa, word)) return n;
          cfa = word;
        }
        std::uint64_t return_address = 0;
        if (!read_copy(sample, cfa + static_cast<std::uintptr_t>(rule.return_address_offset), return_address)) return n;
        // A saved %rbp outside the copy (an epilogue popped it: its slot lies below the sampled SP)
        // is unknown, not an end: libunwind too reads a saved register only when it is used.
        if (rule.rbp == FrameRule::Rbp::saved) {
          bp_known = read_copy(sample, cfa + static_cast<std::uintptr_t>(rule.rbp_offset), bp);
        } else if (rule.rbp == FrameRule::Rbp::saved_at_rbp) {
          // libunwind needs this frame's %rbp to find the slot; it fails the step without it.
          if (!bp_known) return -1;
          bp_known = read_copy(sample, bp + static_cast<std::uintptr_t>(rule.rbp_offset), bp);
        } else if (rule.rbp == FrameRule::Rbp::undefined) {
          bp_known = false;
        }
        if (return_address == 0) return n;
        Caller& next = caller(return_address);
        if (!next.code) return n;
        if (return_address == ip && cfa == sp) return n;
        ip = return_address;
        sp = cfa;
        from = &next;
      }
    } catch (...) {  // no memory for the cache: libunwind walks it
      return -1;
    }
  }

  int walk(const Sample& sample, std::uintptr_t* pcs, int max) noexcept {
    unw_cursor_t cursor;
    if (init_remote(&cursor, address_space, const_cast<Sample*>(&sample)) < 0) return 0;
    unw_word_t ip = 0, sp = 0;
    if (get_reg(&cursor, UNW_REG_IP, &ip) < 0 || get_reg(&cursor, UNW_REG_SP, &sp) < 0 || ip == 0) return 0;
    int n = 0;
    for (;;) {
      pcs[n++] = static_cast<std::uintptr_t>(ip);
      // No step from an ip outside every module's code: no CFI describes its frame, and what
      // libunwind would guess from %rbp (garbage registers, JIT code) is a guess, not a stack.
      // step <= 0: the outermost frame (its CFI leaves the return address undefined), or a frame
      // whose rules need memory outside the copy.
      if (n == max || !is_code(ip) || step(&cursor) <= 0) break;
      unw_word_t next_ip = 0, next_sp = 0;
      if (get_reg(&cursor, UNW_REG_IP, &next_ip) < 0 || get_reg(&cursor, UNW_REG_SP, &next_sp) < 0) break;
      // A return address that is no module's code is where the walk went wrong (the copy's end
      // reached by a heuristic, a corrupt stack): the stack ends before it rather than with it.
      if (next_ip == 0 || !is_code(next_ip)) break;
      if (next_ip == ip && next_sp == sp) break;  // a step that did not move would repeat forever
      ip = next_ip;
      sp = next_sp;
    }
    return n;
  }

  // The accessors libunwind calls back; `arg` is the Sample of the walk in progress.
  static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t* info, int need_unwind_info,
                            void* arg) {
    State& self = *static_cast<Sample*>(arg)->state;
    const Segment* segment = self.segment_holding(ip, 1);
    if (!segment) return -UNW_ENOINFO;
    unw_dyn_info_t table = self.modules[segment->module].unwind_table;
    if (table.format != UNW_INFO_FORMAT_REMOTE_TABLE) return -UNW_ENOINFO;
    return self.search_unwind_table(as, ip, &table, info, need_unwind_info, arg);
  }
  // The FDE's parsed form is libunwind's own (format TABLE) and freed by libunwind itself.
  static void put_unwind_info(unw_addr_space_t, unw_proc_info_t*, void*) {}
  static int get_dyn_info_list_addr(unw_addr_space_t, unw_word_t*, void*) { return -UNW_ENOINFO; }
  static int access_mem(unw_addr_space_t, unw_word_t address, unw_word_t* value, int write, void* arg) {
    const Sample& sample = *static_cast<Sample*>(arg);
    if (write) return -UNW_EINVAL;
    if (sample.probe_key != 0) {  // State::probe: the modules as they are, made-up memory elsewhere
      if (sample.state->segment_holding(address, sizeof *value)) *value = read_module_word(address);
      else *value = made_up_word(address, sample.probe_key);
      return 0;
    }
    if (read_copy(sample, address, *value)) return 0;
    // Outside the copy: only the bytes of a module still loaded (dl_iterate_phdr's lock keeps it so).
    // The live stack beyond the copy is not one of them, so a frame that needs it ends the walk.
    if (!sample.state->segment_holding(address, sizeof *value)) return -UNW_EINVAL;
    *value = read_module_word(address);
    return 0;
  }
  static int access_reg(unw_addr_space_t, unw_regnum_t reg, unw_word_t* value, int write, void* arg) {
    if (write || reg < 0 || reg > UNW_X86_64_RIP) return -UNW_EBADREG;
    *value = static_cast<const Sample*>(arg)->registers[kSampleIndexOfUnwRegister[reg]];
    return 0;
  }
  static int access_fpreg(unw_addr_space_t, unw_regnum_t, unw_fpreg_t*, int, void*) { return -UNW_EBADREG; }
  static int resume(unw_addr_space_t, unw_cursor_t*, void*) { return -UNW_EINVAL; }
  static int get_proc_name(unw_addr_space_t, unw_word_t, char*, std::size_t, unw_word_t*, void*) {
    return -UNW_ENOINFO;
  }
};

CopiedStackUnwinder::CopiedStackUnwinder() {
  // Loaded locally and never linked: see local_unwinder.hpp. RTLD_NOW also means no lazy binding
  // runs later inside dl_iterate_phdr's lock.
  void* lib = ::dlopen("libunwind-x86_64.so.8", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = ::dlerror();
    error = std::string("libunwind-x86_64.so.8 (Debian package libunwind8) could not be loaded: ") +
            (e ? e : "unknown error");
    return;
  }
  elf_version(EV_CURRENT);  // libelf's handshake, before any elf_begin
  auto state = std::make_unique<State>();
  auto resolve = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
    if (!fn && error.empty()) error = std::string("libunwind-x86_64.so.8 lacks ") + name;
  };
  resolve(state->create_addr_space, "_Ux86_64_create_addr_space");
  resolve(state->set_caching_policy, "_Ux86_64_set_caching_policy");
  resolve(state->flush_cache, "_Ux86_64_flush_cache");
  resolve(state->init_remote, "_Ux86_64_init_remote");
  resolve(state->step, "_Ux86_64_step");
  resolve(state->get_reg, "_Ux86_64_get_reg");
  resolve(state->search_unwind_table, "_Ux86_64_dwarf_search_unwind_table");
  if (!error.empty()) return;

  unw_accessors_t accessors{};
  accessors.find_proc_info = &State::find_proc_info;
  accessors.put_unwind_info = &State::put_unwind_info;
  accessors.get_dyn_info_list_addr = &State::get_dyn_info_list_addr;
  accessors.access_mem = &State::access_mem;
  accessors.access_reg = &State::access_reg;
  accessors.access_fpreg = &State::access_fpreg;
  accessors.resume = &State::resume;
  accessors.get_proc_name = &State::get_proc_name;
  state->address_space = state->create_addr_space(&accessors, 0 /* the host's byte order */);
  if (!state->address_space) {
    error = "libunwind-x86_64: unw_create_addr_space failed";
    return;
  }
  // libunwind's rules cached per ip (flushed whenever the module set changes: refresh). Debian's
  // libunwind8 turns UNW_CACHE_PER_THREAD into GLOBAL (built without it), and GLOBAL's lock blocks
  // all signals around every lookup: two rt_sigprocmask calls a frame, which is why walks go by
  // State::rules and libunwind only learns a new address's rule (probe) or walks the rare frame
  // of another shape. UNW_CACHE_NONE would be slower still: each frame would parse its FDE, under
  // the same kind of lock for the parsed CIE's memory.
  state->set_caching_policy(state->address_space, UNW_CACHE_GLOBAL);
  // A walk holds the loader's lock (see unwind): a fork meanwhile would leave the child's copy of
  // it locked for ever (its exit, any dlopen, would hang). fork() waits for the walk instead.
  static State* forking_state = nullptr;
  forking_state = state.get();
  pthread_atfork([] { forking_state->mutex.lock(); }, [] { forking_state->mutex.unlock(); },
                 [] { forking_state->mutex.unlock(); });
  state_ = std::move(state);
}

CopiedStackUnwinder::~CopiedStackUnwinder() = default;

const CopiedStackUnwinder& CopiedStackUnwinder::get() {
  // Never destroyed, like the library it holds: a sampler thread may still unwind while static
  // destructors run at exit (and libunwind's address space stays reachable, not a leak).
  static const CopiedStackUnwinder& unwinder = *new CopiedStackUnwinder;
  return unwinder;
}

int CopiedStackUnwinder::unwind(const std::uint64_t* register_values, const unsigned char* stack,
                                std::size_t size, std::uintptr_t* pcs, int max) const noexcept {
  return unwind(register_values, stack, size, pcs, max, true);
}

CopiedStackUnwinder::WalkCounts CopiedStackUnwinder::walk_counts() const noexcept {
  if (!state_) return {};
  std::lock_guard lock(state_->mutex);
  return state_->counts;
}

CopiedStackUnwinder::RuleComparison CopiedStackUnwinder::compare_rules_with_libunwind(std::uintptr_t begin,
                                                                                     std::uintptr_t end) const noexcept {
  RuleComparison result;
  if (!state_) return result;
  struct Call {
    State* state;
    std::uintptr_t begin, end;
    RuleComparison* result;
  } call{state_.get(), begin, end, &result};
  std::lock_guard lock(state_->mutex);
  State::touch_thread_state();
  ::dl_iterate_phdr(  // the loader's lock, as for a walk (see unwind)
      [](dl_phdr_info* info, std::size_t, void* arg) {
        Call& c = *static_cast<Call*>(arg);
        State& state = *c.state;
        state.refresh_if_changed(*info);
        // In address order, through the rows kept: an address is mostly served by the row an
        // earlier one read, which checks the row's extent as well as its rule.
        for (std::uintptr_t address = c.begin; address < c.end; ++address) {
          if (!state.is_code(address)) continue;
          const FrameRule* used = nullptr;
          try {
            used = &state.rule_at(address);
          } catch (...) {
            return 1;
          }
          if (!used->simple) continue;
          const FrameRule from_libunwind = state.probe(address);
          if (!from_libunwind.simple) continue;
          ++c.result->compared;
          c.result->from_rows += state.kept_row(address) == used;
          if (!(*used == from_libunwind) && c.result->different++ == 0) c.result->first_different = address;
        }
        return 1;
      },
      &call);
  return result;
}

int CopiedStackUnwinder::unwind_with_libunwind(const std::uint64_t* register_values, const unsigned char* stack,
                                               std::size_t size, std::uintptr_t* pcs, int max) const noexcept {
  return unwind(register_values, stack, size, pcs, max, false);
}

int CopiedStackUnwinder::unwind(const std::uint64_t* register_values, const unsigned char* stack, std::size_t size,
                                std::uintptr_t* pcs, int max, bool by_rules) const noexcept {
  if (!state_ || !register_values || !pcs || max <= 0) return 0;
  if (!stack) size = 0;
  struct Call {
    Sample sample;
    std::uintptr_t* pcs;
    int max;
    bool rules;
    int count;
  } call{{register_values, stack, register_values[sample_index(PERF_REG_X86_SP)], size, state_.get()}, pcs, max, by_rules, 0};

  std::lock_guard lock(state_->mutex);
  State::touch_thread_state();
  // The whole walk runs inside dl_iterate_phdr's callback, under the loader's lock: no dlclose can
  // unmap the .eh_frame or code libunwind reads meanwhile, and the first module's counters say
  // whether the cache is still the process's module set. Nothing in here may dlopen or dlsym
  // (reading a module's CFI with libdw does neither: elfutils builds its ABI backends in).
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) {
        Call& c = *static_cast<Call*>(arg);
        State& state = *c.sample.state;
        state.refresh_if_changed(*info);
        c.count = c.rules ? state.walk_by_rules(c.sample, c.pcs, c.max) : -1;
        if (c.count >= 0) {
          ++state.counts.by_rules;
        } else {
          c.count = state.walk(c.sample, c.pcs, c.max);
          ++state.counts.by_libunwind;
        }
        return 1;  // once, whatever the module
      },
      &call);
  return call.count;
}

int CopiedStackUnwinder::unwind(const Registers& registers, const unsigned char* stack, std::size_t size,
                                std::uintptr_t* pcs, int max) const noexcept {
  if (registers.abi != PERF_SAMPLE_REGS_ABI_64) return 0;
  return unwind(registers.values, stack, size, pcs, max);
}

}  // namespace codeprof::sampling
