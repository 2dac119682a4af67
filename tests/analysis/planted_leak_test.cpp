// A per-step leak under a real Profiler with the memory probe and codeprof::alloc linked: the
// allocation balance names the operation that keeps the memory, with its growth per step.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "codeprof/codeprof.hpp"

namespace codeprof {
namespace {

TEST(PlantedWorkloads, LeakThatGrowsEachStep) {
  Config c;
  c.sampler_enabled = false;
  c.metrics.memory = true;
  Profiler p(c);
  std::vector<std::vector<char>> history;  // a "debugging" history that is never cleared
  history.reserve(64);
  std::vector<char> scratch;
  for (int step = 0; step < 40; ++step) {
    auto s = p.profile_operation("train_step", Category::TrainingLoop);
    {
      auto keep = p.profile_operation("keep_history", Category::Custom);
      history.emplace_back(256 * 1024, static_cast<char>(step));
    }
    auto fwd = p.profile_operation("forward", Category::Custom);
    scratch.assign(512 * 1024, 1);  // allocated and freed again: not a leak
    std::vector<char>().swap(scratch);
  }
  const Findings f = p.analyze();
  std::string fired;
  for (const auto& r : f.recommendations) fired += r.id + " ";
  ASSERT_FALSE(f.recommendations.empty());
  EXPECT_EQ(f.recommendations[0].id, "memory-leak-suspected") << fired;
  const Recommendation& r = f.recommendations[0];
  EXPECT_EQ(r.evidence[0].metric, "retained_bytes_per_step");
  EXPECT_EQ(r.evidence[0].operation, "keep_history");
  EXPECT_GE(r.evidence[0].value, 256.0 * 1024);       // usable size >= requested
  EXPECT_LT(r.evidence[0].value, 256.0 * 1024 * 1.1);
  bool trend = false;
  for (const auto& t : f.trends)
    if (t.kind == TrendKind::MemoryGrowth && t.operation == "keep_history") trend = true;
  EXPECT_TRUE(trend);
  for (const auto& t : f.trends) EXPECT_NE(t.operation, "forward") << t.description;
}

// With allocation sampling the recommendation names the line that allocated what is kept.
TEST(PlantedWorkloads, LeakRecommendationCitesTheLiveAllocationSite) {
  Config c;
  c.sampler_enabled = false;
  c.metrics.memory = true;
  c.sampling.alloc_enabled = true;
  c.sampling.alloc_interval_bytes = 64 * 1024;
  Profiler p(c);
  std::vector<std::vector<char>> history;
  history.reserve(64);
  const int leak_line = __LINE__ + 4;
  for (int step = 0; step < 40; ++step) {
    auto s = p.profile_operation("train_step", Category::TrainingLoop);
    auto keep = p.profile_operation("keep_history", Category::Custom);
    history.emplace_back(256 * 1024, static_cast<char>(step));
  }
  const Findings f = p.analyze();
  const Recommendation* leak = nullptr;
  for (const auto& r : f.recommendations)
    if (r.id == "memory-leak-suspected") leak = &r;
  ASSERT_NE(leak, nullptr);
  const std::string where = "planted_leak_test.cpp:" + std::to_string(leak_line);
  EXPECT_NE(leak->action.find("Start with " + where), std::string::npos) << leak->action;
  EXPECT_NE(leak->evidence_text.find("sampled live at " + where), std::string::npos) << leak->evidence_text;
  bool share = false;
  for (const auto& e : leak->evidence)
    if (e.metric == "live_at_end_share" && e.operation == "keep_history") share = e.value > 0.9;
  EXPECT_TRUE(share);
}

}  // namespace
}  // namespace codeprof
