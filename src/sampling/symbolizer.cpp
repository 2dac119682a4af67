#include "sampling/symbolizer.hpp"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
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
  bool reported_once = false;

  Dwfl() : session(dwfl_begin(&kCallbacks)) { report(); }
  ~Dwfl() {
    if (session) dwfl_end(session);
  }
  // (Re)reads /proc/self/maps: modules loaded since (dlopen) become known.
  void report() {
    if (!session) return;
    dwfl_report_begin(session);
    dwfl_linux_proc_report(session, getpid());
    dwfl_report_end(session, nullptr, nullptr);
    reported_once = true;
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
  Dwfl_Module* module = dwfl_addrmodule(d, pc);
  if (!module) {
    module_symbols_.clear();  // modules unloaded since are freed by the new report
    dwfl_->report();  // a library loaded after the last look
    module = dwfl_addrmodule(d, pc);
  }
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

  // Scopes from the innermost out; each inlined subroutine is a frame whose caller is the next
  // enclosing function scope, at the inlined call's file and line.
  // dwarf_getscopes follows an inlined function into its abstract definition, which ends the
  // chain after the innermost inlined level; the scopes around that concrete DIE
  // (dwarf_getscopes_die, as eu-addr2line -i does) hold every level.
  std::vector<ProfileFrame> out;
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes(cudie, pc - bias, &scopes);
  if (n > 0) {
    Dwarf_Die innermost = scopes[0];
    std::free(scopes);
    scopes = nullptr;
    n = dwarf_getscopes_die(&innermost, &scopes);
  }
  std::string cur_file = file;
  std::uint32_t cur_line = line;
  for (int i = 0; i < n; ++i) {
    Dwarf_Die* scope = &scopes[i];
    const int tag = dwarf_tag(scope);
    if (tag == DW_TAG_inlined_subroutine) {
      out.push_back({die_function_name(scope), cur_file, cur_line, module_path, true});
      cur_file = call_file(cudie, scope);
      cur_line = call_line(scope);
    } else if (tag == DW_TAG_subprogram) {
      break;
    }
  }
  std::free(scopes);
  out.push_back({outer_name, cur_file, cur_line, module_path, false});
  return out;
}

}  // namespace codeprof::sampling
