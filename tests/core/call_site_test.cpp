// Run-time names: the thread-local intern table returns the registry's id for every (name,
// category), including names that share their first and last bytes, and agrees across threads.
#include "codeprof/call_site.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using namespace codeprof;

namespace {

std::vector<std::string> tricky_names() {
  std::vector<std::string> names = {"", "a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "0123456789abcdef",
                                    "0123456789abcdefg"};
  // Same first and last 8 bytes and length, different middle.
  for (char c = 'a'; c <= 'z'; ++c) names.push_back("prefix__" + std::string(9, c) + "__suffix");
  for (int i = 0; i < 500; ++i) names.push_back("intern.op_" + std::to_string(i));
  return names;
}

}  // namespace

TEST(InternSite, MatchesTheRegistryForEveryNameAndCategory) {
  const auto names = tricky_names();
  for (int round = 0; round < 3; ++round) {  // first round adds, the others hit
    for (const auto& n : names) {
      for (Category c : {Category::Io, Category::Custom}) {
        const SiteId interned = intern_site(n, c);
        const SiteId registered = register_site(n, c);
        ASSERT_EQ(interned.id, registered.id) << n;
        EXPECT_EQ(interned.category, c);
        EXPECT_EQ(site_name(interned.id), n);
      }
    }
  }
  EXPECT_NE(intern_site("intern.op_1", Category::Io).id, intern_site("intern.op_1", Category::Custom).id);
}

TEST(InternSite, ThreadsAgree) {
  const auto names = tricky_names();
  std::vector<std::vector<std::uint32_t>> ids(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (const auto& n : names) ids[t].push_back(intern_site(n, Category::Preprocessing).id);
    });
  for (auto& t : threads) t.join();
  for (int t = 1; t < 4; ++t) EXPECT_EQ(ids[t], ids[0]);
}
