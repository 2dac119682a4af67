#include "metrics/site_cache.hpp"

#include "codeprof/call_site.hpp"

namespace codeprof::metrics {

const CachedSite* cached_site(std::uint32_t id) {
  thread_local std::vector<CachedSite> cache;
  if (id >= cache.size()) {
    const std::vector<SiteInfo> table = site_table();
    cache.reserve(table.size());
    for (std::size_t i = cache.size(); i < table.size(); ++i) cache.push_back({table[i].name, table[i].category});
    if (id >= cache.size()) return nullptr;
  }
  return &cache[id];
}

}  // namespace codeprof::metrics
