// Process-wide registry of operations, keyed by (category, name).
#include "codeprof/call_site.hpp"

#include <array>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/fork_safety.hpp"

namespace codeprof {
namespace {

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

std::string make_key(std::string_view name, Category category) {
  std::string key;
  key.reserve(name.size() + 1);
  key.push_back(static_cast<char>('A' + static_cast<int>(category)));
  key.append(name);
  return key;
}

struct Registry final : core::ForkAware {
  Registry() { core::register_fork_aware(this); }
  void before_fork() noexcept override { mutex.lock(); }
  void after_fork_parent() noexcept override { mutex.unlock(); }
  void after_fork_child() noexcept override { mutex.unlock(); }

  std::mutex mutex;
  std::deque<SiteInfo> sites;  // index = id
  std::unordered_map<std::string, std::uint32_t, TransparentHash, std::equal_to<>> ids;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: scopes may run during static destruction
  return *r;
}

}  // namespace

SiteId register_site(std::string_view name, Category category, const char* file, std::uint32_t line) {
  Registry& r = registry();
  std::string key = make_key(name, category);
  std::lock_guard lock(r.mutex);
  if (auto it = r.ids.find(key); it != r.ids.end()) return SiteId{it->second, category};
  const auto id = static_cast<std::uint32_t>(r.sites.size());
  r.sites.push_back(SiteInfo{std::string(name), category, file ? file : "", line});
  r.ids.emplace(std::move(key), id);
  return SiteId{id, category};
}

SiteId intern_site(std::string_view name, Category category) {
  // The thread's own cache, one map per category: a hit costs one hash of the name, no copy and
  // no lock.
  using Cache = std::unordered_map<std::string, std::uint32_t, TransparentHash, std::equal_to<>>;
  thread_local std::array<Cache, kCategoryCount> cache;
  Cache& c = cache[index_of(category)];
  if (auto it = c.find(name); it != c.end()) return SiteId{it->second, category};
  const SiteId site = register_site(name, category);
  c.emplace(std::string(name), site.id);
  return site;
}

std::vector<SiteInfo> site_table() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return {r.sites.begin(), r.sites.end()};
}

std::string site_name(std::uint32_t id) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return id < r.sites.size() ? r.sites[id].name : std::string();
}

}  // namespace codeprof
