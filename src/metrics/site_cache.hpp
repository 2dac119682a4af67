#pragma once
// Per-thread copy of the call-site registry's names and categories, indexed by operation id.
// Probes need a scope's name (NVTX) or category (GPU timing) on every call: a cache hit is an
// index, and a miss (a site registered since the last refresh) copies the registry once.
#include <cstdint>
#include <string>
#include <vector>

#include "codeprof/category.hpp"

namespace codeprof::metrics {

struct CachedSite {
  std::string name;
  Category category = Category::Custom;
};

// Null only if the id is not registered at all.
const CachedSite* cached_site(std::uint32_t id);

}  // namespace codeprof::metrics
