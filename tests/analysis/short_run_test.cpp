// A short profiling run (a CI job, one stage of a pipeline) is a first-class case: each detector
// that looks at time (memory growth, slow-down, spikes, the input pipeline) must conclude on a run
// of about half a second under a real Profiler with its sampler, and a check that cannot conclude
// must say what it needs and what it had. Nothing asserts on absolute times: the planted effects
// are large (48 MB of growth, a 5x slower second half, a 100x spike).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "analysis/analyze.hpp"
#include "codeprof/codeprof.hpp"
#include "support/spin_for.hpp"

namespace codeprof {
namespace {

using Clock = std::chrono::steady_clock;

using test::spin_for;

Config short_run_config() {
  Config c;
  c.sampler_interval_ms = 100;  // the default: the early cadence must make up for it
  c.step_operation = "train_step";
  return c;
}

std::string trends_and_gaps_text(const Findings& f) {
  std::string s = "\n" + f.classification.summary + "\n";
  for (const auto& t : f.trends) s += "  trend " + std::string(to_string(t.kind)) + ": " + t.description + "\n";
  for (const auto& i : f.inconclusive) s += "  not concluded " + i.check + ": needs " + i.needs + "; had " + i.had + "\n";
  return s;
}

bool has_trend(const Findings& f, TrendKind kind, const std::string& operation) {
  for (const auto& t : f.trends)
    if (t.kind == kind && (operation.empty() || t.operation == operation)) return true;
  return false;
}

const Inconclusive* note(const Findings& f, const std::string& check) {
  for (const auto& i : f.inconclusive)
    if (i.check == check) return &i;
  return nullptr;
}

TEST(ShortRun, HalfASecondOfStepsThatKeepMemoryShowsMemoryGrowth) {
  Profiler p(short_run_config());
  std::vector<std::unique_ptr<char[]>> kept;  // the leak: 1 MB kept per step
  const auto end = Clock::now() + std::chrono::milliseconds(500);
  while (Clock::now() < end && kept.size() < 48) {
    auto step = p.profile_operation("train_step", Category::TrainingLoop);
    kept.emplace_back(new char[1 << 20]);
    std::memset(kept.back().get(), 1, 1 << 20);  // resident, not just reserved
    std::this_thread::sleep_for(std::chrono::milliseconds(9));
  }
  const Snapshot s = p.snapshot();
  const Findings f = analysis::analyze(s, p.config());
  const TimelineSeries* rss = s.timeline("rss_bytes");
  ASSERT_NE(rss, nullptr);
  EXPECT_GE(rss->values.size(), 20u) << "the early cadence and the snapshot's own sample";
  EXPECT_TRUE(has_trend(f, TrendKind::MemoryGrowth, "")) << trends_and_gaps_text(f);
  EXPECT_EQ(note(f, "memory_growth"), nullptr) << trends_and_gaps_text(f);
}

TEST(ShortRun, HalfASecondShowsASlowdownAndASpike) {
  // Sleeps, 5x and 100x apart: on a loaded machine a call can be held up for several
  // milliseconds by the scheduler, which these ratios outlast (a spun 250 us call does not).
  Profiler p(short_run_config());
  for (int i = 0; i < 80; ++i) {
    auto op = p.profile_operation("decode", Category::Preprocessing);
    std::this_thread::sleep_for(std::chrono::milliseconds(i < 40 ? 2 : 10));  // the second half 5x slower
  }
  for (int i = 0; i < 150; ++i) {  // enough calls that p99 is not the slow call itself
    auto op = p.profile_operation("lookup", Category::DataLoading);
    std::this_thread::sleep_for(std::chrono::milliseconds(i == 75 ? 150 : 1));  // one call 100x its neighbours
  }
  const Findings f = p.analyze();
  EXPECT_TRUE(has_trend(f, TrendKind::Slowdown, "decode")) << trends_and_gaps_text(f);
  EXPECT_TRUE(has_trend(f, TrendKind::Spike, "lookup")) << trends_and_gaps_text(f);
  EXPECT_EQ(note(f, "slowdown"), nullptr) << trends_and_gaps_text(f);
  EXPECT_EQ(note(f, "spike"), nullptr) << trends_and_gaps_text(f);
}

TEST(ShortRun, HalfASecondOfStepsWaitingForInputIsInputBound) {
  Profiler p(short_run_config());
  for (int i = 0; i < 40; ++i) {
    auto step = p.profile_operation("train_step", Category::TrainingLoop);
    {
      auto load = p.profile_operation("next_batch", Category::DataLoading);
      std::this_thread::sleep_for(std::chrono::milliseconds(8));
    }
    spin_for(std::chrono::microseconds(3000));
  }
  const Findings f = p.analyze();
  EXPECT_EQ(f.classification.input.level, InputBound::Highly) << trends_and_gaps_text(f);
  EXPECT_EQ(f.classification.input.steps, 40u);
  EXPECT_EQ(note(f, "input_bound"), nullptr) << trends_and_gaps_text(f);
}

TEST(ShortRun, ChecksThatCannotConcludeSayWhatTheyNeedAndHad) {
  Config c = short_run_config();
  c.sampler_enabled = false;
  Profiler p(c);
  for (int i = 0; i < 5; ++i) {
    auto op = p.profile_operation("tiny", Category::Custom);
  }
  const Findings f = p.analyze();
  const Inconclusive* memory = note(f, "memory_growth");
  ASSERT_NE(memory, nullptr) << trends_and_gaps_text(f);
  EXPECT_NE(memory->needs.find("8 rss_bytes samples"), std::string::npos) << memory->needs;
  EXPECT_NE(memory->had.find("sampler.enabled is off"), std::string::npos) << memory->had;
  const Inconclusive* slowdown = note(f, "slowdown");
  ASSERT_NE(slowdown, nullptr) << trends_and_gaps_text(f);
  EXPECT_NE(slowdown->had.find("tiny, has 5 calls"), std::string::npos) << slowdown->had;
  const Inconclusive* spike = note(f, "spike");
  ASSERT_NE(spike, nullptr) << trends_and_gaps_text(f);
  EXPECT_NE(spike->needs.find(">= 50 calls"), std::string::npos) << spike->needs;
  const Inconclusive* input = note(f, "input_bound");
  ASSERT_NE(input, nullptr) << trends_and_gaps_text(f);
  EXPECT_EQ(input->had, "none found");
}

}  // namespace
}  // namespace codeprof
