#include "sampling/alloc_sites.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "sampling/hot_spots.hpp"

namespace codeprof::sampling {
namespace {

// Code of the C++ standard library: its headers (inlined containers and allocators) and
// libstdc++ itself. An allocation made inside std::vector is charged to the line that used it.
bool is_standard_library(const ProfileFrame& f) {
  if (f.file.find("/include/c++/") != std::string::npos) return true;
  const auto slash = f.module.rfind('/');
  return std::string_view(f.module).substr(slash == std::string::npos ? 0 : slash + 1).starts_with("libstdc++");
}

const ProfileFrame& site_of(const SampleProfile& p, const ProfileStack& st) {
  for (const std::uint32_t f : st.frames)
    if (f < p.frames.size() && !is_standard_library(p.frames[f])) return p.frames[f];
  return st.frames.empty() || st.frames.front() >= p.frames.size() ? unknown_frame() : p.frames[st.frames.front()];
}

using SiteKey = std::tuple<std::string, std::string, std::uint32_t>;  // function, file, line
struct SiteCounts {
  std::uint64_t samples = 0, bytes = 0, live = 0;
};
struct OperationAllocs {
  std::uint64_t samples = 0, bytes = 0, live = 0;
  std::map<SiteKey, SiteCounts> sites;
};

// Most bytes first; ties by function, file and line so the order is stable.
void sort_and_trim(std::vector<AllocSite>& v) {
  std::sort(v.begin(), v.end(), [](const AllocSite& a, const AllocSite& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return std::tie(a.function, a.file, a.line) < std::tie(b.function, b.file, b.line);
  });
  if (v.size() > kHotSpotsPerOperation) v.resize(kHotSpotsPerOperation);
}

double share(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

void attribute_allocations(Snapshot& s) {
  std::unordered_map<std::uint32_t, OperationAllocs> per_op;
  for (const ProfileStack& st : s.profile.stacks) {
    if (st.alloc_samples == 0 || st.operations.empty()) continue;
    OperationAllocs& o = per_op[st.operations.front()];
    o.samples += st.alloc_samples;
    o.bytes += st.alloc_bytes;
    o.live += st.live_bytes;
    const ProfileFrame& site = site_of(s.profile, st);
    SiteCounts& c = o.sites[{site.function, site.file, site.line}];
    c.samples += st.alloc_samples;
    c.bytes += st.alloc_bytes;
    c.live += st.live_bytes;
  }
  for (OperationStats& op : s.operations) {
    op.alloc_samples = op.alloc_sampled_bytes = op.live_sampled_bytes = 0;
    op.hot_allocations.clear();
    op.live_at_end.clear();
    const auto it = per_op.find(op.id);
    if (it == per_op.end()) continue;
    const OperationAllocs& o = it->second;
    op.alloc_samples = o.samples;
    op.alloc_sampled_bytes = o.bytes;
    op.live_sampled_bytes = o.live;
    for (const auto& [key, c] : o.sites) {
      const auto& [function, file, line] = key;
      op.hot_allocations.push_back({function, file, line, c.samples, c.bytes, share(c.bytes, o.bytes)});
      if (c.live > 0) op.live_at_end.push_back({function, file, line, c.samples, c.live, share(c.live, o.live)});
    }
    sort_and_trim(op.hot_allocations);
    sort_and_trim(op.live_at_end);
  }
}

}  // namespace codeprof::sampling
