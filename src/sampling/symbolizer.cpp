#include "sampling/symbolizer.hpp"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <utility>

namespace codeprof::sampling {
namespace {

const Dwfl_Callbacks kCallbacks = {
    dwfl_linux_proc_find_elf,
    dwfl_standard_find_debuginfo,
    nullptr,  // section_address: only for relocatable files
    nullptr,  // debuginfo_path: the standard places (/usr/lib/debug, .build-id)
};

std::string hex(std::uintptr_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(v));
  return buf;
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// The name of a subprogram or inlined subroutine DIE: its demangled linkage name (qualified, with
// parameters), else its plain name.
std::string die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) || dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
    if (const char* linkage = dwarf_formstring(&attr)) return demangle(linkage);
  if (const char* name = dwarf_diename(die)) return name;
  if (dwarf_attr_integrate(die, DW_AT_name, &attr))
    if (const char* name = dwarf_formstring(&attr)) return name;
  return "";
}

// The file a DW_AT_call_file index names in the compile unit's file table.
std::string call_file(Dwarf_Die* cudie, Dwarf_Die* inlined) {
  Dwarf_Attribute attr;
  Dwarf_Word index = 0;
  if (!dwarf_attr(inlined, DW_AT_call_file, &attr) || dwarf_formudata(&attr, &index) != 0) return "";
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (dwarf_getsrcfiles(cudie, &files, &count) != 0 || index >= count) return "";
  const char* name = dwarf_filesrc(files, index, nullptr, nullptr);
  return name ? name : "";
}

std::uint32_t call_line(Dwarf_Die* inlined) {
  Dwarf_Attribute attr;
  Dwarf_Word line = 0;
  if (!dwarf_attr(inlined, DW_AT_call_line, &attr) || dwarf_formudata(&attr, &line) != 0) return 0;
  return static_cast<std::uint32_t>(line);
}

// The dynamic loader's load and unload counters: they change with every dlopen and dlclose, so
// they say whether /proc/self/maps can hold a module the last report did not.
using LoaderCounts = std::pair<unsigned long long, unsigned long long>;
LoaderCounts loader_counts() {
  LoaderCounts counts{0, 0};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) {
        *static_cast<LoaderCounts*>(arg) = {info->dlpi_adds, info->dlpi_subs};
        return 1;
      },
      &counts);
  return counts;
}

}  // namespace

std::string demangle(const char* name) {
  if (!name) return "";
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || !out) return name;
  std::string s(out);
  std::free(out);
  return s;
}

struct Symbolizer::Dwfl {
  ::Dwfl* session = nullptr;
  std::size_t reports = 0;
  LoaderCounts reported_counts{};  // loader_counts() at the last report

  Dwfl() : session(dwfl_begin(&kCallbacks)) { report(); }
  ~Dwfl() {
    if (session) dwfl_end(session);
  }
  // (Re)reads /proc/self/maps: modules loaded since (dlopen) become known.
  void report() {
    if (!session) return;
    reported_counts = loader_counts();
    dwfl_report_begin(session);
    dwfl_linux_proc_report(session, getpid());
    dwfl_report_end(session, nullptr, nullptr);
    ++reports;
  }
};

// dwfl_module_addrinfo scans the whole symbol table at every call: with libtorch_cpu's symbols
// that was most of the sampler's time in the demo. The function symbols of a module are read
// once, sorted by address, and searched; names are demangled once.
struct Symbolizer::ModuleSymbols {
  struct Symbol {
    GElf_Addr start = 0;
    GElf_Word size = 0;
    const char* name = nullptr;  // owned by libdwfl while the session lives
  };
  std::vector<Symbol> by_address;
  std::unordered_map<const char*, std::string> demangled;

  explicit ModuleSymbols(Dwfl_Module* module) {
    const int n = dwfl_module_getsymtab(module);
    for (int i = 1; i < n; ++i) {
      GElf_Sym sym;
      GElf_Addr addr = 0;
      const char* name = dwfl_module_getsym_info(module, i, &sym, &addr, nullptr, nullptr, nullptr);
      const int type = GELF_ST_TYPE(sym.st_info);
      if (!name || !*name || addr == 0 || sym.st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC)) continue;
      by_address.push_back({addr, static_cast<GElf_Word>(sym.st_size), name});
    }
    // Among symbols at one address (aliases) the sized one first, then by name: a stable choice.
    std::sort(by_address.begin(), by_address.end(), [](const Symbol& a, const Symbol& b) {
      if (a.start != b.start) return a.start < b.start;
      if ((a.size != 0) != (b.size != 0)) return a.size != 0;
      return std::strcmp(a.name, b.name) < 0;
    });
  }

  const char* find(GElf_Addr pc) const {
    auto it = std::upper_bound(by_address.begin(), by_address.end(), pc, [](GElf_Addr a, const Symbol& s) { return a < s.start; });
    if (it == by_address.begin()) return nullptr;
    const GElf_Addr start = std::prev(it)->start;
    // The first of the symbols at that start (sized first), as long as one of them covers pc.
    auto first = std::prev(it);
    while (first != by_address.begin() && std::prev(first)->start == start) --first;
    for (auto s = first; s != it; ++s)
      if (s->size == 0 ? it == by_address.end() || pc < it->start : pc < s->start + s->size) return s->name;
    return nullptr;
  }
};

// One compile unit's function scopes, concrete functions and the inlined calls inside them, with
// their address ranges, read in one walk of the unit's DIEs. dwarf_getscopes_die walks the unit
// from its start at every call: for a unit that includes libtorch's headers that was milliseconds
// per address, most of the sampler's CPU in the demo.
struct Symbolizer::UnitScopes {
  struct Scope {
    Dwarf_Die die;
    int parent;  // the enclosing scope, -1 at a concrete function
    int depth;
  };
  struct Range {
    Dwarf_Addr low, high;
    int scope;
  };
  std::vector<Scope> scopes;
  std::vector<Range> ranges;      // by low address, the deeper scope last among equal ones
  std::vector<Dwarf_Addr> reach;  // reach[i]: the highest end among ranges[0..i]

  explicit UnitScopes(Dwarf_Die* cudie) {
    struct Open {
      Dwarf_Die die;
      int scope;  // the scope the die's children are in
    };
    std::vector<Open> stack{{*cudie, -1}};
    while (!stack.empty()) {
      Open open = stack.back();
      stack.pop_back();
      Dwarf_Die child;
      if (dwarf_child(&open.die, &child) != 0) continue;
      do {
        const int tag = dwarf_tag(&child);
        int scope = open.scope;
        const bool inlined = tag == DW_TAG_inlined_subroutine;
        if (inlined || tag == DW_TAG_subprogram) {
          const std::size_t first_range = ranges.size();
          const int index = static_cast<int>(scopes.size());
          Dwarf_Addr base = 0, low = 0, high = 0;
          for (ptrdiff_t off = 0; (off = dwarf_ranges(&child, off, &base, &low, &high)) > 0;)
            if (low < high) ranges.push_back({low, high, index});
          if (ranges.size() > first_range) {  // abstract definitions (no code) are no scope
            const int parent = inlined ? open.scope : -1;
            scopes.push_back({child, parent, parent < 0 ? 0 : scopes[static_cast<std::size_t>(parent)].depth + 1});
            scope = index;
          }
        }
        if (dwarf_haschildren(&child)) stack.push_back({child, scope});
      } while (dwarf_siblingof(&child, &child) == 0);
    }
    std::sort(ranges.begin(), ranges.end(), [&](const Range& a, const Range& b) {
      if (a.low != b.low) return a.low < b.low;
      return scopes[static_cast<std::size_t>(a.scope)].depth < scopes[static_cast<std::size_t>(b.scope)].depth;
    });
    reach.reserve(ranges.size());
    for (const Range& r : ranges) reach.push_back(std::max(r.high, reach.empty() ? 0 : reach.back()));
  }

  // The innermost scope holding `pc` (a unit-relative address), -1 for none. Scopes nest, so of
  // the ranges holding pc the one starting last is the innermost.
  int innermost(Dwarf_Addr pc) const {
    auto i = std::upper_bound(ranges.begin(), ranges.end(), pc, [](Dwarf_Addr a, const Range& r) { return a < r.low; });
    for (auto k = static_cast<std::size_t>(i - ranges.begin()); k-- > 0 && reach[k] > pc;)
      if (pc < ranges[k].high) return ranges[k].scope;
    return -1;
  }
};

const std::string* Symbolizer::symbol_at(void* module, std::uintptr_t pc) {
  auto& symbols = module_symbols_[module];
  if (!symbols) symbols = std::make_unique<ModuleSymbols>(static_cast<Dwfl_Module*>(module));
  const char* name = symbols->find(pc);
  if (!name) return nullptr;
  auto [it, fresh] = symbols->demangled.emplace(name, std::string());
  if (fresh) it->second = demangle(name);
  return &it->second;
}

Symbolizer::Symbolizer() : dwfl_(std::make_unique<Dwfl>()) {}
std::size_t Symbolizer::module_reports() const noexcept { return dwfl_->reports; }
Symbolizer::~Symbolizer() = default;

const std::vector<ProfileFrame>& Symbolizer::frames(std::uintptr_t pc) {
  const auto it = cache_.find(pc);
  if (it != cache_.end()) return it->second;
  return cache_.emplace(pc, resolve(pc)).first->second;
}

std::vector<Unavailable> Symbolizer::take_notes() { return std::exchange(notes_, {}); }

std::vector<ProfileFrame> Symbolizer::resolve(std::uintptr_t pc) {
  ::Dwfl* d = dwfl_->session;
  if (!d) return {{"[unknown]", "", 0, "", false}};
  // A library loaded (or unloaded) since the last look: read /proc/self/maps again first (the new
  // one may lie where libdwfl counted an old module's trailing mappings). Only when the loader says
  // so: code outside every module (a JIT's, oneDNN's kernels) would otherwise re-read it, and
  // re-sort libtorch's symbols, at each of its addresses.
  if (loader_counts() != dwfl_->reported_counts) {
    // A module whose range changed is a new Dwfl_Module (the old one, its symbols and debug
    // information are freed by the report), and may even get the old one's address.
    module_symbols_.clear();
    unit_scopes_.clear();
    dwfl_->report();
  }
  Dwfl_Module* module = dwfl_addrmodule(d, pc);
  if (!module) return {{"[unknown]", "", 0, "", false}};

  Dwarf_Addr module_start = 0;
  const char* main_file = nullptr;
  const char* module_name = dwfl_module_info(module, nullptr, &module_start, nullptr, nullptr, nullptr, &main_file, nullptr);
  const std::string module_path = main_file ? main_file : (module_name ? module_name : "");

  const std::string* symbol = symbol_at(module, pc);
  std::string outer_name = symbol ? *symbol : "[" + std::string(base_name(module_path.c_str())) + "+" + hex(pc - module_start) + "]";

  // File and line of the instruction itself (the innermost frame, inlined or not).
  std::string file;
  std::uint32_t line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(module, pc)) {
    int lineno = 0;
    if (const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr)) {
      file = src;
      line = static_cast<std::uint32_t>(lineno > 0 ? lineno : 0);
    }
  }

  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = dwfl_module_addrdie(module, pc, &bias);
  if (!cudie) {
    if (modules_noted_.emplace(module_path, true).second && file.empty()) {
      // A module with debug information for some of its files (one built with -g, one without)
      // gets lines for those: the note says which case this is.
      Dwarf_Addr module_bias = 0;
      const bool partly = dwfl_module_getdwarf(module, &module_bias) != nullptr;
      notes_.push_back({"sampling_symbols", module_path + (partly ? ": some code without debug information (files built without -g?)"
                                                                  : ": code without debug information (built without -g?)") +
                                                ": functions from the symbol table, lines unknown"});
    }
    return {{outer_name, file, line, module_path, false}};
  }

  // Scopes from the innermost out; each inlined call is a frame whose caller is the enclosing
  // scope, at the inlined call's file and line.
  auto& unit = unit_scopes_[cudie->addr];
  if (!unit) unit = std::make_unique<UnitScopes>(cudie);
  std::vector<ProfileFrame> out;
  std::string cur_file = file;
  std::uint32_t cur_line = line;
  for (int s = unit->innermost(pc - bias); s >= 0; s = unit->scopes[static_cast<std::size_t>(s)].parent) {
    Dwarf_Die scope = unit->scopes[static_cast<std::size_t>(s)].die;
    if (dwarf_tag(&scope) != DW_TAG_inlined_subroutine) break;
    out.push_back({die_function_name(&scope), cur_file, cur_line, module_path, true});
    cur_file = call_file(cudie, &scope);
    cur_line = call_line(&scope);
  }
  out.push_back({outer_name, cur_file, cur_line, module_path, false});
  return out;
}

}  // namespace codeprof::sampling
