#pragma once
// Turns program counters of this process into frames: function (demangled), file:line, inlined
// frames, for PIE executables and shared libraries (modules found through /proc/self/maps).
// elfutils libdw; off the hot path (the sampler's thread), cached per address. Code without debug
// information gets its function from the symbol table and no line, said once per module.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "codeprof/snapshot.hpp"

namespace codeprof::sampling {

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // The frames at `pc`, innermost first: inlined functions, then the function they were inlined
  // into. `pc` must point into the instruction (return addresses: pass the address minus one).
  // Cached: the reference stays valid until the Symbolizer is destroyed.
  const std::vector<ProfileFrame>& frames(std::uintptr_t pc);

  // Modules with code without debug information met since the last call, each reported once
  // ("<path>: code without debug information ...: functions from the symbol table, lines unknown").
  std::vector<Unavailable> take_notes();

  std::size_t cached_addresses() const noexcept { return cache_.size(); }
  // How many times the process's modules were read (/proc/self/maps): once, then once after each
  // dlopen or dlclose that an address needs.
  std::size_t module_reports() const noexcept;

 private:
  struct Dwfl;  // elfutils session (opaque here: libdw stays out of other translation units)
  struct ModuleSymbols;  // one module's function symbols sorted by address
  struct UnitScopes;     // one compile unit's functions and inlined calls by address
  std::vector<ProfileFrame> resolve(std::uintptr_t pc);
  // The demangled function symbol at `pc` of `module` (a Dwfl_Module), null when none covers it.
  const std::string* symbol_at(void* module, std::uintptr_t pc);

  std::unique_ptr<Dwfl> dwfl_;
  std::unordered_map<void*, std::unique_ptr<ModuleSymbols>> module_symbols_;
  std::unordered_map<const void*, std::unique_ptr<UnitScopes>> unit_scopes_;  // by the unit DIE's address
  std::unordered_map<std::uintptr_t, std::vector<ProfileFrame>> cache_;
  std::unordered_map<std::string, bool> modules_noted_;
  std::vector<Unavailable> notes_;
};

// "_ZN3foo3barEv" -> "foo::bar()"; names that are not mangled come back unchanged.
std::string demangle(const char* name);

}  // namespace codeprof::sampling
