// Planted-bottleneck workloads that really run under a codeprof::Profiler: each must yield the
// expected top bottleneck and recommendation, and the clean one nothing of high priority.
// The planted ratios are large (a 20 ms sleep against 0.5 ms of compute) so that a loaded machine
// cannot change the outcome; nothing asserts on absolute times. With the CPU probe on, a scope's
// probe runs outside its timestamps and its system call is where the kernel preempts a thread on a
// busy machine, so that wait lands in the enclosing scope's self time (measured: 13-34 % of a
// parent's time at a load of 12 on 2 cores). Workloads that need the probe therefore keep the
// planted operation out of other scopes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "analysis/analyze.hpp"
#include "analysis/find_recommendation.hpp"
#include "codeprof/codeprof.hpp"
#include "support/spin_for.hpp"

namespace codeprof {
namespace {


using test::spin_for;

Config probed_config() {
  Config c;
  c.sampler_enabled = false;  // only the probes: timelines would add host-dependent evidence
  c.metrics.cpu = true;
  return c;
}

using testing::find_recommendation;

// Everything the analysis said, for failure messages.
std::string ids(const Findings& f) {
  std::string s = "\n" + f.classification.summary + "\n";
  for (const auto& b : f.bottlenecks) s += "  bottleneck " + b.operation + ": " + b.reason + "\n";
  for (const auto& r : f.recommendations) s += "  " + r.id + " (" + std::string(to_string(r.priority)) + "): " + r.evidence_text + "\n";
  return s;
}

std::size_t position(const Findings& f, const std::string& id) {
  for (std::size_t i = 0; i < f.recommendations.size(); ++i)
    if (f.recommendations[i].id == id) return i;
  return f.recommendations.size();
}

TEST(PlantedWorkloads, SleepingLoader) {
  Profiler p(probed_config());
  for (int step = 0; step < 25; ++step) {
    {
      auto load = p.profile_operation("load_batch", Category::DataLoading);  // no workers, no prefetch
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto s = p.profile_operation("train_step", Category::TrainingLoop);
    spin_for(std::chrono::microseconds(500));
  }
  const Findings f = p.analyze();
  ASSERT_FALSE(f.bottlenecks.empty());
  EXPECT_EQ(f.bottlenecks[0].operation, "load_batch") << ids(f);
  EXPECT_EQ(f.classification.input.level, InputBound::Highly) << ids(f);
  EXPECT_EQ(f.classification.input.steps, 25u);
  ASSERT_FALSE(f.recommendations.empty()) << ids(f);
  EXPECT_EQ(f.recommendations[0].id, "input-bound-workers") << ids(f);
  EXPECT_EQ(f.recommendations[0].priority, Priority::High);
  ASSERT_NE(find_recommendation(f, "input-prefetch"), nullptr) << ids(f);
  // The loader sleeps: the probe sees it off the CPU, and the worker count may exceed the cores.
  const Recommendation* waiting = find_recommendation(f, "cpu-waiting");
  ASSERT_NE(waiting, nullptr) << ids(f);
  EXPECT_LT(waiting->evidence[0].value, 0.1);
}

TEST(PlantedWorkloads, TokenizerInASlowPerCharacterLoop) {
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "The Quick Brown Fox jumps over the lazy dog ";
  Config timing_only = probed_config();
  timing_only.metrics.cpu = false;  // nested scopes: timestamps only (see the top of this file)
  Profiler p(timing_only);
  std::size_t tokens = 0;
  for (int step = 0; step < 25; ++step) {
    auto s = p.profile_operation("train_step", Category::TrainingLoop);
    {
      auto tok = p.profile_operation("tokenize", Category::Preprocessing);
      // Deliberately naive: one character at a time, a fresh string per token.
      std::vector<std::string> out;
      std::string current;
      for (char c : text) {
        if (c == ' ') {
          out.push_back(current);
          current = std::string();
        } else {
          current = current + static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
      }
      tokens += out.size();
    }
    auto fwd = p.profile_operation("forward", Category::Custom);
    spin_for(std::chrono::microseconds(200));
  }
  EXPECT_EQ(tokens, 25u * 4000u * 9u);
  const Findings f = p.analyze();
  ASSERT_FALSE(f.bottlenecks.empty());
  EXPECT_EQ(f.bottlenecks[0].operation, "tokenize") << ids(f);
  ASSERT_FALSE(f.recommendations.empty()) << ids(f);
  EXPECT_EQ(f.recommendations[0].id, "preprocessing-vectorize") << ids(f);
  EXPECT_EQ(f.recommendations[0].priority, Priority::High);
  EXPECT_EQ(f.recommendations[0].evidence[0].operation, "tokenize");
}

TEST(PlantedWorkloads, LockContentionAcrossThreads) {
  Profiler p(probed_config());
  std::mutex shared;
  std::uint64_t counter = 0;
  std::latch start(4);  // all four threads contend from the first call on
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 25; ++i) {
        auto op = p.profile_operation("update_shared", Category::Custom);
        std::lock_guard lock(shared);
        std::this_thread::sleep_for(std::chrono::microseconds(500));  // slow work under the lock
        ++counter;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 100u);
  const Findings f = p.analyze();
  ASSERT_FALSE(f.bottlenecks.empty());
  EXPECT_EQ(f.bottlenecks[0].operation, "update_shared") << ids(f);
  EXPECT_TRUE(f.classification.cpu.contention_suspected) << ids(f);
  const Recommendation* r = find_recommendation(f, "lock-contention");
  ASSERT_NE(r, nullptr) << ids(f);
  EXPECT_EQ(position(f, "lock-contention"), 0u) << ids(f);
  EXPECT_EQ(r->evidence[0].value, 4.0);  // threads
  EXPECT_EQ(find_recommendation(f, "cpu-waiting"), nullptr) << "explained by the lock" << ids(f);
}

TEST(PlantedWorkloads, LeakSeenByTheSystemSampler) {
  Config c;
  c.sampler_enabled = true;
  c.sampler_interval_ms = 10;
  Profiler p(c);
  std::vector<std::vector<char>> history;  // never cleared: 1 MiB kept per step
  for (int step = 0; step < 50; ++step) {
    auto s = p.profile_operation("train_step", Category::TrainingLoop);
    history.emplace_back(1 << 20, static_cast<char>(step + 1));  // touched: resident
    spin_for(std::chrono::milliseconds(5));
  }
  const Snapshot snap = p.snapshot();
  const Findings f = analysis::analyze(snap, p.config());
  const Recommendation* r = find_recommendation(f, "memory-leak-suspected");
  std::string rss = "no rss_bytes timeline";
  if (const TimelineSeries* t = snap.timeline("rss_bytes"); t && !t->values.empty())
    rss = std::to_string(t->values.size()) + " RSS samples from " + std::to_string(t->values.front()) + " to " +
          std::to_string(t->values.back());
  ASSERT_NE(r, nullptr) << rss << ids(f);
  // About 1 MiB per step (the allocator and the sampler's timing blur it a little).
  double per_step = 0.0;
  for (const auto& e : r->evidence)
    if (e.metric == "rss_growth_per_step") per_step = e.value;
  EXPECT_GT(per_step, 0.5 * (1 << 20)) << r->evidence_text;
  EXPECT_LT(per_step, 2.0 * (1 << 20)) << r->evidence_text;
  EXPECT_EQ(history.size(), 50u);
}

TEST(PlantedWorkloads, CleanComputeBoundLoopHasNoHighPriorityFinding) {
  Profiler p(probed_config());
  for (int step = 0; step < 40; ++step) {
    auto s = p.profile_operation("train_step", Category::TrainingLoop);
    spin_for(std::chrono::milliseconds(2));
  }
  const Findings f = p.analyze();
  for (const auto& b : f.bottlenecks) EXPECT_NE(b.optimization_priority, Priority::High) << ids(f);
  for (const auto& r : f.recommendations) EXPECT_NE(r.priority, Priority::High) << ids(f);
  EXPECT_EQ(f.classification.input.level, InputBound::Not);
  ASSERT_FALSE(f.bottlenecks.empty());
  EXPECT_EQ(f.bottlenecks[0].operation, "train_step") << ids(f);
  EXPECT_EQ(find_recommendation(f, "input-bound-workers"), nullptr);
  EXPECT_EQ(find_recommendation(f, "lock-contention"), nullptr);
  EXPECT_EQ(find_recommendation(f, "memory-leak-suspected"), nullptr);
}

}  // namespace
}  // namespace codeprof
