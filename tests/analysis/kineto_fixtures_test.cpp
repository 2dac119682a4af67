// The analysis on real PyTorch profiler (Kineto) traces read by the trace reader: GPU idle time
// from the devices' busy time inside the steps, no inference advice for a training trace, and
// finite, evidence-backed findings for every fixture.
#include <gtest/gtest.h>

#include <filesystem>

#include "analysis/analyze.hpp"
#include "analysis/findings_text.hpp"
#include "codeprof/trace_reader.hpp"

namespace codeprof {
namespace {

const std::string kKineto = std::string(CODEPROF_FIXTURES_DIR) + "/kineto/";

TEST(KinetoFixtures, TrainingRankIsJudgedOnTheGpuTimeInsideItsSteps) {
  const Snapshot s = io::read_trace_file(kKineto + "sampled_rank-0.json.gz");
  // Independent expectation: the whole-device busy time inside the steps over the steps' time.
  double step_s = 0.0, busy_s = 0.0;
  for (const StepSpan& st : s.steps) step_s += static_cast<double>(st.end_ns - st.start_ns) * 1e-9;
  for (const DeviceActivity& d : s.devices)
    if (d.stream == -1) busy_s += static_cast<double>(d.busy_in_steps_ns) * 1e-9;
  ASSERT_GT(step_s, 0.0);
  ASSERT_GT(busy_s, 0.0);

  const Findings f = analysis::analyze(s, Config{});
  EXPECT_EQ(f.classification.input.steps, s.steps.size());
  EXPECT_NEAR(f.classification.input.step_time, step_s, 1e-9);
  EXPECT_EQ(f.classification.gpu.source, GpuSource::Trace);
  EXPECT_NEAR(f.classification.gpu.idle_share, 1.0 - busy_s / step_s, 1e-9);
  ASSERT_FALSE(f.recommendations.empty());
  EXPECT_EQ(f.recommendations[0].id, "gpu-idle");
  EXPECT_EQ(f.recommendations[0].priority, Priority::High);  // idle for more than half of the steps
  for (const auto& r : f.recommendations) EXPECT_NE(r.type, recommendation_type(Category::ModelInference)) << r.id << ": a training trace";
}

TEST(KinetoFixtures, EveryFixtureGivesFiniteEvidenceBackedFindings) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kKineto)) {
    if (entry.path().extension() != ".gz") continue;
    ++files;
    const Snapshot s = io::read_trace_file(entry.path().string());
    const Findings f = analysis::analyze(s, Config{});
    EXPECT_TRUE(testing::all_finite(f)) << entry.path();
    for (const auto& r : f.recommendations) {
      EXPECT_FALSE(r.evidence.empty()) << entry.path() << " " << r.id;
      EXPECT_EQ(r.action.find('{'), std::string::npos) << r.action;
    }
    EXPECT_EQ(testing::findings_text(f), testing::findings_text(analysis::analyze(s, Config{}))) << entry.path();
  }
  EXPECT_GE(files, 10u);
}

}  // namespace
}  // namespace codeprof
