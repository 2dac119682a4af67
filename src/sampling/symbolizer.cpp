#include "sampling/symbolizer.hpp"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
    dwfl_->report();  // a library loaded after the last look
    module = dwfl_addrmodule(d, pc);
  }
  if (!module) return {{"[unknown]", "", 0, "", false}};

  Dwarf_Addr module_start = 0;
  const char* main_file = nullptr;
  const char* module_name = dwfl_module_info(module, nullptr, &module_start, nullptr, nullptr, nullptr, &main_file, nullptr);
  const std::string module_path = main_file ? main_file : (module_name ? module_name : "");

  GElf_Off offset = 0;
  GElf_Sym sym;
  const char* symbol = dwfl_module_addrinfo(module, pc, &offset, &sym, nullptr, nullptr, nullptr);
  std::string outer_name = symbol ? demangle(symbol)
                                  : "[" + std::string(base_name(module_path.c_str())) + "+" + hex(pc - module_start) + "]";

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
    if (modules_noted_.emplace(module_path, true).second && file.empty())
      notes_.push_back({"sampling_symbols", module_path + ": code without debug information (built without -g?): functions from the symbol table, lines unknown"});
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
