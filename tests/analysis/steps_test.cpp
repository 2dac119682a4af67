// Step detection (trace spans, configured operation, training_loop scopes) and the input-bound
// classification with TensorFlow's 20 % / 5 % thresholds.
#include <gtest/gtest.h>

#include "analysis/analyze.hpp"
#include "analysis/snapshot_builder.hpp"
#include "analysis/steps.hpp"

namespace codeprof {
namespace {

using testing::ns;
using testing::SnapshotBuilder;

SnapshotBuilder training_steps(double load_s, double compute_s) {
  SnapshotBuilder b(100 * (load_s + compute_s));
  const auto step = b.op("train_step", Category::TrainingLoop, 100, load_s + compute_s);
  b.top(step);
  const auto load = b.op("load_batch", Category::DataLoading, 100, load_s);
  b.child(step, load);
  const auto compute = b.op("forward", Category::TrainingLoop, 100, compute_s);  // once per step: not the step
  b.child(step, compute);
  return b;
}

InputPipelineClass input_of(const Snapshot& s, const Config& c = Config{}) {
  return analysis::analyze(s, c).classification.input;
}

TEST(Steps, NoStepsMeansUnknown) {
  SnapshotBuilder b(10.0);
  b.top(b.op("load_batch", Category::DataLoading, 100, 0.05));
  const auto in = input_of(b.build());
  EXPECT_EQ(in.level, InputBound::Unknown);
  EXPECT_EQ(in.steps, 0u);
  EXPECT_TRUE(in.step_source.empty());
}

TEST(Steps, OutermostTrainingLoopOperationWithItsInput) {
  const auto in = input_of(training_steps(0.03, 0.07).build());
  EXPECT_EQ(in.steps, 100u);
  EXPECT_NEAR(in.step_time, 10.0, 1e-9);
  EXPECT_NEAR(in.input_share, 0.3, 1e-9);
  EXPECT_EQ(in.level, InputBound::Highly);
  EXPECT_EQ(in.step_source, "training_loop operation 'train_step'");
}

TEST(Steps, LevelsFollowTheTwentyAndFivePercentThresholds) {
  EXPECT_EQ(input_of(training_steps(0.021, 0.079).build()).level, InputBound::Highly);
  EXPECT_EQ(input_of(training_steps(0.019, 0.081).build()).level, InputBound::Moderately);
  EXPECT_EQ(input_of(training_steps(0.0051, 0.0949).build()).level, InputBound::Moderately);
  EXPECT_EQ(input_of(training_steps(0.0049, 0.0951).build()).level, InputBound::Not);
  EXPECT_EQ(input_of(training_steps(0.0, 0.1).build()).level, InputBound::Not);
}

TEST(Steps, ConfiguredStepOperationWins) {
  auto b = training_steps(0.03, 0.07);
  const auto it = b.op("iteration", Category::Custom, 50, 0.2);
  b.top(it);
  Config c;
  c.step_operation = "iteration";
  const auto in = input_of(b.build(), c);
  EXPECT_EQ(in.steps, 50u);
  EXPECT_EQ(in.step_source, "configured step operation 'iteration'");

  c.step_operation = "missing";
  const auto fallback = input_of(b.build(), c);
  EXPECT_EQ(fallback.steps, 100u);
  EXPECT_NE(fallback.step_source.find("'missing' not seen"), std::string::npos) << fallback.step_source;
}

TEST(Steps, EpochScopeDescendsToTheStepsAndCountsPasses) {
  SnapshotBuilder b(40.0);
  const auto epoch = b.op("epoch", Category::TrainingLoop, 4, 10.0);
  b.top(epoch);
  const auto step = b.op("train_step", Category::TrainingLoop, 400, 0.095);
  b.child(epoch, step);
  const Snapshot s = b.build();
  const auto steps = analysis::detect_steps(s, Config{});
  EXPECT_EQ(steps.count, 400u);
  ASSERT_TRUE(steps.pass_operation.has_value());
  EXPECT_EQ(*steps.pass_operation, epoch);
  EXPECT_EQ(steps.passes, 4u);
}

TEST(Steps, LoaderBetweenStepsOnTheSameThreadCounts) {
  SnapshotBuilder b(10.0);
  b.top(b.op("train_step", Category::TrainingLoop, 100, 0.07));
  b.top(b.op("load_batch", Category::DataLoading, 100, 0.03));
  const auto in = input_of(b.build());
  EXPECT_NEAR(in.input_share, 0.3, 1e-9);  // 3 s of a 10 s iteration
}

TEST(Steps, LoaderOnWorkerThreadsDoesNotStallTheSteps) {
  SnapshotBuilder b(7.0);
  b.top(b.op("train_step", Category::TrainingLoop, 100, 0.07));
  const auto load = b.op("load_batch", Category::DataLoading, 100, 0.03);
  b.top(load);
  b.on_threads(load, {1, 2});
  const auto in = input_of(b.build());
  EXPECT_DOUBLE_EQ(in.input_share, 0.0);
  EXPECT_EQ(in.level, InputBound::Not);
}

TEST(Steps, IntermediateCallerSharedWithOtherCodeIsScaled) {
  // fetch runs 1 s inside the steps and 1 s outside; its child read (1 s) counts half.
  SnapshotBuilder b(10.0);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.09);
  b.top(step);
  const auto fetch = b.op("fetch", Category::Custom, 200, 0.01);
  const auto read = b.op("read", Category::DataLoading, 200, 0.005);
  b.snapshot().call_tree.push_back({step, fetch, 100, static_cast<std::uint64_t>(ns(1.0))});
  b.snapshot().call_tree.push_back({kRootOperation, fetch, 100, static_cast<std::uint64_t>(ns(1.0))});
  b.child(fetch, read);
  b.on_threads(fetch, {0, 1});
  b.on_threads(read, {0, 1});
  const auto steps = analysis::detect_steps(b.build(), Config{});
  EXPECT_NEAR(steps.input_in_steps_s, 0.5, 1e-9);
}

TEST(Steps, TraceSpansUseTheUnionOfInputEventsInsideSteps) {
  SnapshotBuilder b(4.0);
  const auto load = b.op("DataLoader.__next__", Category::DataLoading, 4, 0.3);
  b.top(load);
  Snapshot s = b.build();
  s.run.source = "kineto";
  s.steps = {{0, ns(0.0), ns(1.0)}, {1, ns(1.0), ns(2.0)}, {2, ns(2.0), ns(3.0)}};
  auto event = [&](double start, double dur) {
    TraceEvent e;
    e.operation_id = load;
    e.start_ns = ns(start);
    e.duration_ns = ns(dur);
    return e;
  };
  // 0.2 s + 0.5 s + 0.1 s inside the steps; the nested event adds nothing, the tail after 3 s is outside.
  s.trace_events = {event(0.0, 0.2), event(0.1, 0.05), event(1.0, 0.5), event(2.9, 0.6)};
  const auto steps = analysis::detect_steps(s, Config{});
  EXPECT_EQ(steps.count, 3u);
  EXPECT_NEAR(steps.step_time_s, 3.0, 1e-9);
  EXPECT_NEAR(steps.input_in_steps_s, 0.8, 1e-9);
  EXPECT_EQ(steps.source, "step spans from the kineto input");
  const auto in = analysis::classify_input(steps);
  EXPECT_EQ(in.level, InputBound::Highly);
}

TEST(Steps, TraceSpansWithoutEventsCountInputAsInsideTheSteps) {
  SnapshotBuilder b(4.0);
  b.top(b.op("DataLoader.__next__", Category::DataLoading, 3, 0.2));
  Snapshot s = b.build();
  s.steps = {{0, ns(0.0), ns(1.0)}, {1, ns(1.0), ns(2.0)}, {2, ns(2.5), ns(2.0)}};  // the last one is malformed
  const auto steps = analysis::detect_steps(s, Config{});
  EXPECT_EQ(steps.count, 2u);
  EXPECT_NEAR(steps.input_in_steps_s, 0.6, 1e-9);
}

// The alert monitor's snapshot copies only the trace events the analysis reads
// (kTraceCategoriesRead, Snapshot::trace_categories): the step facts are those of the whole trace,
// also when the window holds none of the copied categories' events.
TEST(Steps, ACopyOfTheCategoriesReadGivesTheWholeTracesFacts) {
  SnapshotBuilder b(4.0);
  const auto load = b.op("DataLoader.__next__", Category::DataLoading, 4, 0.3);
  const auto infer = b.op("forward", Category::ModelInference, 4, 0.1);
  const auto work = b.op("tokenize", Category::Cpu, 4, 0.2);
  b.top(load);
  b.top(infer);
  b.top(work);
  Snapshot full = b.build();
  full.steps = {{0, ns(0.0), ns(1.0)}, {1, ns(1.0), ns(2.0)}, {2, ns(2.0), ns(3.0)}};
  auto event = [&](std::uint32_t op, double start, double dur) {
    TraceEvent e;
    e.operation_id = op;
    e.start_ns = ns(start);
    e.duration_ns = ns(dur);
    return e;
  };
  full.trace_events = {event(work, 0.0, 0.9), event(load, 0.0, 0.2), event(infer, 3.2, 0.3), event(load, 1.0, 0.5),
                       event(work, 3.0, 0.1)};
  full.trace_policy = "last";
  full.trace_window_start_ns = ns(0.0);
  full.trace_window_end_ns = ns(3.5);
  auto copy_read = [](Snapshot s) {
    std::erase_if(s.trace_events, [&](const TraceEvent& e) {
      return (analysis::kTraceCategoriesRead & category_bit(s.find(e.operation_id)->category)) == 0;
    });
    s.trace_categories = analysis::kTraceCategoriesRead;
    return s;
  };
  const Snapshot part = copy_read(full);
  ASSERT_EQ(part.trace_events.size(), 3u);
  const auto a = analysis::detect_steps(full, Config{}), c = analysis::detect_steps(part, Config{});
  EXPECT_NEAR(a.input_in_steps_s, 0.7, 1e-9);
  EXPECT_DOUBLE_EQ(c.input_in_steps_s, a.input_in_steps_s);
  EXPECT_DOUBLE_EQ(analysis::time_outside_steps(part, c, Category::ModelInference),
                   analysis::time_outside_steps(full, a, Category::ModelInference));

  // Only work in the window: no input was inside the steps, where a snapshot without any trace
  // would count all of it as inside.
  Snapshot busy = full;
  std::erase_if(busy.trace_events, [&](const TraceEvent& e) { return e.operation_id != work; });
  const Snapshot busy_part = copy_read(busy);
  ASSERT_TRUE(busy_part.trace_events.empty());
  EXPECT_DOUBLE_EQ(analysis::detect_steps(busy_part, Config{}).input_in_steps_s,
                   analysis::detect_steps(busy, Config{}).input_in_steps_s);
  EXPECT_DOUBLE_EQ(analysis::detect_steps(busy, Config{}).input_in_steps_s, 0.0);
}

}  // namespace
}  // namespace codeprof
