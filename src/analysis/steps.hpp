#pragma once
// Step detection and the input-pipeline classification (how much of each step waits for input).
// Steps come from the trace (StepSpan, e.g. Kineto's ProfilerStep#N), else from the configured
// step operation, else from the outermost training_loop operation (descending into a
// training_loop child that runs several times per call and covers most of its time, so an
// "epoch" scope around "train_step" scopes yields the steps, not the epochs).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codeprof/config.hpp"
#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

// data_loading and preprocessing: the input pipeline.
constexpr bool is_input_category(Category c) noexcept {
  return c == Category::DataLoading || c == Category::Preprocessing;
}

// The categories whose trace events the analysis reads (input inside the steps, inference outside
// them): a snapshot taken for the analysis alone needs no other events (Snapshot::trace_categories).
inline constexpr std::uint32_t kTraceCategoriesRead =
    category_bit(Category::DataLoading) | category_bit(Category::Preprocessing) | category_bit(Category::ModelInference);

// Whether the snapshot places calls in time: it carries trace events, or a window of them of which
// only some categories were copied (none of those in it, perhaps).
inline bool has_trace(const Snapshot& s) noexcept {
  return !s.trace_events.empty() || ((s.trace_categories & kAllCategoriesMask) != kAllCategoriesMask && s.trace_window_end_ns > 0);
}

struct StepFacts {
  std::uint64_t count = 0;
  double step_time_s = 0.0;       // total time inside steps
  double mean_step_s = 0.0;
  double median_step_s = 0.0;
  double input_in_steps_s = 0.0;       // data_loading + preprocessing inside steps
  // Same, outside the steps but where they wait for it: called at the steps' level (the epoch
  // loop or the top level), on the steps' threads, between the first step's start and the last's end.
  double input_between_steps_s = 0.0;
  std::string source;                  // how steps were found; empty when none
  std::optional<std::uint32_t> step_operation;  // the operation whose calls are the steps
  std::vector<std::uint32_t> step_threads;      // threads that ran steps (live)
  std::optional<std::uint32_t> pass_operation;  // enclosing operation repeated >= 2 times (epochs)
  std::uint64_t passes = 0;                     // its call count
  std::int64_t first_start_ns = 0;
  std::int64_t last_end_ns = 0;
  std::map<std::uint32_t, double> input_by_operation;  // seconds each input operation stalled the steps

  // Input time the steps' thread spent, over the whole iteration (step + input outside it).
  double input_s() const noexcept { return input_in_steps_s + input_between_steps_s; }
  double iteration_s() const noexcept { return step_time_s + input_between_steps_s; }
  double input_share() const noexcept { return iteration_s() > 0.0 ? input_s() / iteration_s() : 0.0; }
  // Step time not spent on input: what prefetching can hide input behind.
  double compute_per_step_s() const noexcept {
    return count ? std::max(0.0, step_time_s - input_in_steps_s) / static_cast<double>(count) : 0.0;
  }
};

StepFacts detect_steps(const Snapshot& snapshot, const Config& config);

// TensorFlow's input-pipeline analyzer thresholds: >= 20 % highly, >= 5 % moderately input-bound.
inline constexpr double kHighlyInputBound = 0.20;
inline constexpr double kModeratelyInputBound = 0.05;

InputPipelineClass classify_input(const StepFacts& steps);

// Seconds that operations of `category` ran outside the steps (outermost calls only). Without
// steps all of it; with step spans but no events to place the calls, none (a trace with steps is a
// training trace: its model calls are the steps' forward passes).
double time_outside_steps(const Snapshot& snapshot, const StepFacts& steps, Category category);

}  // namespace codeprof::analysis
