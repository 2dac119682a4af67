#pragma once
// Operations are identified by (name, category). A call site registers once (static storage in
// CODEPROF_SCOPE) and then passes a 4-byte id; dynamic names are interned through a thread-local
// cache, so no lock is taken after the first call with a given name.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codeprof/category.hpp"

namespace codeprof {

struct SiteId {
  std::uint32_t id;
  Category category;
};

// Process-wide registry. Thread-safe. Returns the same id for the same (name, category).
SiteId register_site(std::string_view name, Category category, const char* file = "", std::uint32_t line = 0);
// Thread-local cached lookup for run-time names (no lock on a cache hit).
SiteId intern_site(std::string_view name, Category category);

struct SiteInfo {
  std::string name;
  Category category = Category::Custom;
  std::string file;
  std::uint32_t line = 0;
};
// A copy of the registry's entries with id < count (ids are dense from 0).
std::vector<SiteInfo> site_table();
std::string site_name(std::uint32_t id);

}  // namespace codeprof
