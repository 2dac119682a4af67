// Process-wide registry of operations, keyed by (category, name).
#include "codeprof/call_site.hpp"

#include <array>
#include <cstring>
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

namespace {

// The thread's own table of run-time names: open addressing on a hash of the length and the
// first and last 8 bytes, so a hit costs two loads, a multiply and three compares (names up to
// 16 bytes are then fully compared; longer ones compare their middle too). No lock, no copy.
class InternTable {
 public:
  SiteId find_or_add(std::string_view name, Category category) {
    const Key k = key_of(name, category);
    std::size_t i = k.hash & mask_;
    for (;;) {
      Entry& e = entries_[i];
      if (!e.name) break;
      if (e.hash == k.hash && e.head == k.head && e.tail == k.tail && e.size == name.size() && e.category == category &&
          (name.size() <= 16 || std::memcmp(e.name + 8, name.data() + 8, name.size() - 16) == 0))
        return SiteId{e.id, category};
      i = (i + 1) & mask_;
    }
    return add(name, category, k);
  }

 private:
  struct Key {
    std::uint64_t hash, head, tail;
  };
  struct Entry {
    std::uint64_t hash = 0, head = 0, tail = 0;
    const char* name = nullptr;  // the registry's copy: stable, never changed
    std::uint32_t size = 0;
    std::uint32_t id = 0;
    Category category = Category::Custom;
  };

  static Key key_of(std::string_view name, Category category) noexcept {
    std::uint64_t head = 0, tail = 0;
    const std::size_t n = name.size();
    if (n >= 8) {
      std::memcpy(&head, name.data(), 8);
      std::memcpy(&tail, name.data() + n - 8, 8);
    } else {
      for (std::size_t i = 0; i < n; ++i) head |= static_cast<std::uint64_t>(static_cast<unsigned char>(name[i])) << (8 * i);
    }
    std::uint64_t h = (head * 0x9E3779B97F4A7C15ull) ^ (tail * 0xC2B2AE3D27D4EB4Full) ^ (n << 8) ^ static_cast<std::uint64_t>(category);
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    h ^= h >> 29;
    return {h, head, tail};
  }

  SiteId add(std::string_view name, Category category, const Key& k) {
    const auto [site, stable] = register_stable(name, category);
    if ((used_ + 1) * 2 > entries_.size()) grow();
    std::size_t i = k.hash & mask_;
    while (entries_[i].name) i = (i + 1) & mask_;
    entries_[i] = Entry{k.hash, k.head, k.tail, stable, static_cast<std::uint32_t>(name.size()), site.id, category};
    ++used_;
    return site;
  }

  void grow() {
    std::vector<Entry> old(entries_.size() * 2);
    old.swap(entries_);
    mask_ = entries_.size() - 1;
    for (const Entry& e : old) {
      if (!e.name) continue;
      std::size_t i = e.hash & mask_;
      while (entries_[i].name) i = (i + 1) & mask_;
      entries_[i] = e;
    }
  }

  static std::pair<SiteId, const char*> register_stable(std::string_view name, Category category);

  std::vector<Entry> entries_ = std::vector<Entry>(64);
  std::size_t mask_ = 63;
  std::size_t used_ = 0;
};

std::pair<SiteId, const char*> InternTable::register_stable(std::string_view name, Category category) {
  const SiteId site = register_site(name, category);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return {site, r.sites[site.id].name.data()};  // a deque element: never moves, never changes
}

}  // namespace

SiteId intern_site(std::string_view name, Category category) {
  thread_local InternTable table;
  return table.find_or_add(name, category);
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
