#pragma once
// What analysis concludes from a Snapshot: bottlenecks, classification, trends, recommendations.
// Plain data; produced by src/analysis, consumed by exporters, the dashboard and the CLI.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codeprof/category.hpp"
#include "codeprof/detail/enum_names.hpp"

namespace codeprof {

// How much acting on a finding matters, most first. Reports spell it "high", "medium", "low".
enum class Priority : std::uint8_t { High, Medium, Low };

inline constexpr std::array<std::string_view, 3> kPriorityNames = {"high", "medium", "low"};

constexpr std::string_view to_string(Priority p) noexcept { return detail::enum_name(kPriorityNames, p); }

constexpr std::optional<Priority> priority_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<Priority>(kPriorityNames, s);
}

// Why an operation is a bottleneck: its mean or p95 is over its category's critical or warning
// threshold, or its calls are under them but take a large share of the run. Reports spell it
// "critical", "warning", "share".
enum class Severity : std::uint8_t { Critical, Warning, Share };

inline constexpr std::array<std::string_view, 3> kSeverityNames = {"critical", "warning", "share"};

constexpr std::string_view to_string(Severity s) noexcept { return detail::enum_name(kSeverityNames, s); }

constexpr std::optional<Severity> severity_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<Severity>(kSeverityNames, s);
}

// What changed over the run: an operation got slower, memory kept growing, or single calls took
// far longer than the operation's p99. Reports spell it "slowdown", "memory_growth", "spike".
enum class TrendKind : std::uint8_t { Slowdown, MemoryGrowth, Spike };

inline constexpr std::array<std::string_view, 3> kTrendKindNames = {"slowdown", "memory_growth", "spike"};

constexpr std::string_view to_string(TrendKind k) noexcept { return detail::enum_name(kTrendKindNames, k); }

constexpr std::optional<TrendKind> trend_kind_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<TrendKind>(kTrendKindNames, s);
}

// What an evidence number measures, which says how it reads ("1.20 s", "35.0 %", "2.0 MiB"):
// seconds, a share 0..1, a multiple, a percentage 0..100, bytes, bytes per second, events per
// second, a count, or nothing (a statistic such as a z score). `Metric`: a custom metric's
// reading, in the unit the program gave the metric (`Evidence::metric_unit`), which may be any text.
enum class EvidenceUnit : std::uint8_t { None, Seconds, Ratio, Factor, Percent, Bytes, BytesPerSecond, PerSecond, Count, Metric };

// Metric's spelling is never written: the report writes the metric's own unit in its place.
inline constexpr std::array<std::string_view, 10> kEvidenceUnitNames = {
    "", "s", "ratio", "factor", "percent", "bytes", "bytes_per_s", "per_s", "count", "metric"};

constexpr std::string_view to_string(EvidenceUnit u) noexcept { return detail::enum_name(kEvidenceUnitNames, u); }

constexpr std::optional<EvidenceUnit> evidence_unit_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<EvidenceUnit>(kEvidenceUnitNames, s);
}

// How much of a run's time went into its input pipeline (data loading + preprocessing) per step:
// at least 20 % "highly", at least 5 % "moderately" (TensorFlow's input-pipeline analyzer), less
// "not"; "unknown" when the run has no steps.
enum class InputBound : std::uint8_t { Highly, Moderately, Not, Unknown };

inline constexpr std::array<std::string_view, 4> kInputBoundNames = {"highly", "moderately", "not", "unknown"};

constexpr std::string_view to_string(InputBound b) noexcept { return detail::enum_name(kInputBoundNames, b); }

constexpr std::optional<InputBound> input_bound_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<InputBound>(kInputBoundNames, s);
}

// Where the GPU figures came from: the system sampler (NVML), the trace's GPU activity, both (two
// GPUs, one measured each way), or nowhere. Reports spell it "", "sampler", "trace", "sampler+trace".
enum class GpuSource : std::uint8_t { None, Sampler, Trace, SamplerAndTrace };

inline constexpr std::array<std::string_view, 4> kGpuSourceNames = {"", "sampler", "trace", "sampler+trace"};

constexpr std::string_view to_string(GpuSource s) noexcept { return detail::enum_name(kGpuSourceNames, s); }

constexpr std::optional<GpuSource> gpu_source_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<GpuSource>(kGpuSourceNames, s);
}

// What a recommendation acts on: the pipeline stage of one operation category, or the system
// around the pipeline (threads, memory, configuration). The values are the categories, in their
// order, then System; reports spell it as the category ("data_loading") or "system".
enum class RecommendationType : std::uint8_t { System = kCategoryCount };

inline constexpr std::array<std::string_view, kCategoryCount + 1> kRecommendationTypeNames = [] {
  std::array<std::string_view, kCategoryCount + 1> names{};
  for (std::size_t i = 0; i < kCategoryCount; ++i) names[i] = kCategoryNames[i];
  names[kCategoryCount] = "system";
  return names;
}();

constexpr RecommendationType recommendation_type(Category c) noexcept {
  return static_cast<RecommendationType>(index_of(c));
}

constexpr std::string_view to_string(RecommendationType t) noexcept {
  return detail::enum_name(kRecommendationTypeNames, t);
}

constexpr std::optional<RecommendationType> recommendation_type_from_string(std::string_view s) noexcept {
  return detail::enum_from_name<RecommendationType>(kRecommendationTypeNames, s);
}

// One number that supports a finding.
struct Evidence {
  std::string metric;     // e.g. "input_share", "mean_duration_s", "cpu_efficiency"
  double value = 0.0;
  EvidenceUnit unit = EvidenceUnit::None;
  std::string operation;    // the operation it was measured on, empty for whole-run facts
  std::string metric_unit;  // EvidenceUnit::Metric only: the custom metric's unit, e.g. "pages"

  bool operator==(const Evidence&) const = default;
};

// An evidence number in a custom metric's own unit: one of EvidenceUnit's spellings ("bytes", "s",
// none) reads as that unit, any other text is kept as the metric's.
inline Evidence metric_evidence(std::string metric, double value, std::string_view unit) {
  const std::optional<EvidenceUnit> known = evidence_unit_from_string(unit);
  if (known && *known != EvidenceUnit::Metric) return {std::move(metric), value, *known, {}, {}};
  return {std::move(metric), value, EvidenceUnit::Metric, {}, std::string(unit)};
}

// How the unit is spelled in reports: its name, or the custom metric's own unit.
inline std::string_view unit_spelling(const Evidence& e) noexcept {
  return e.unit == EvidenceUnit::Metric ? std::string_view(e.metric_unit) : to_string(e.unit);
}

struct Bottleneck {
  std::string operation;
  Category type = Category::Custom;  // the operation's category
  double avg_duration = 0.0;        // seconds
  double p95_duration = 0.0;        // seconds
  std::uint64_t calls = 0;
  double total_time = 0.0;          // seconds
  double self_time = 0.0;           // seconds
  double share_of_wall = 0.0;       // self time / wall time of the run, 0..1
  Severity severity = Severity::Share;
  Priority optimization_priority = Priority::Low;
  std::string reason;               // one line with the numbers

  bool operator==(const Bottleneck&) const = default;
};

struct InputPipelineClass {
  InputBound level = InputBound::Unknown;
  double input_share = 0.0;         // (data_loading + preprocessing) / step time, 0..1
  std::uint64_t steps = 0;
  double step_time = 0.0;           // seconds, total
  std::string step_source;          // how steps were found

  bool operator==(const InputPipelineClass&) const = default;
};

struct GpuClass {
  bool available = false;           // any GPU data at all
  double idle_share = 0.0;          // share of step (or run) time the GPU was idle, 0..1
  double mean_utilization = 0.0;    // percent
  double peak_memory_fraction = 0.0;  // 0..1
  GpuSource source = GpuSource::None;

  bool operator==(const GpuClass&) const = default;
};

struct CpuClass {
  double mean_efficiency = 0.0;     // CPU time / wall time over probed scopes, 0..1 (-1: unknown)
  double involuntary_switches_per_s = 0.0;
  bool contention_suspected = false;
  std::vector<std::string> waiting_operations;  // low-efficiency operations

  bool operator==(const CpuClass&) const = default;
};

struct Classification {
  InputPipelineClass input;
  GpuClass gpu;
  CpuClass cpu;
  std::string summary;  // one line

  bool operator==(const Classification&) const = default;
};

struct Trend {
  TrendKind kind = TrendKind::Slowdown;
  std::string operation;   // empty for process-wide (e.g. RSS growth)
  std::string description; // one line with the numbers
  double magnitude = 0.0;  // slowdown: late/early ratio; memory_growth: bytes per step; spike: duration/p99
  double at_s = 0.0;       // when it happened / started (seconds since the run's origin)
  std::string method;      // statistic used, e.g. "median of first vs last quarter of windows"

  bool operator==(const Trend&) const = default;
};

struct Recommendation {
  std::string id;        // stable, e.g. "input-bound-workers"
  RecommendationType type = RecommendationType::System;
  Priority priority = Priority::Low;
  std::string title;
  std::vector<Evidence> evidence;
  std::string evidence_text;  // the evidence in one readable line
  std::string action;         // what to change, concretely

  bool operator==(const Recommendation&) const = default;
};

// A check that could not conclude on this run, and why: what it needs and what the run had. A
// short run (a CI job, one stage of a pipeline) is a normal case, and "nothing found" there must
// not read as "nothing wrong".
struct Inconclusive {
  std::string check;  // e.g. "memory_growth", "slowdown", "input_bound", "batch-size-small"
  std::string needs;  // one line, e.g. "8 rss_bytes samples after the first quarter of the run"
  std::string had;    // one line, e.g. "5 samples over 0.44 s"

  bool operator==(const Inconclusive&) const = default;
};

// Where the steps' time went, in seconds since the start (or the last reset): what the Prometheus
// counters, the live alerts and the comparison of the ranks of a distributed job read.
struct StepTiming {
  std::uint64_t steps = 0;
  double step_time = 0.0;        // inside the steps
  double input_time = 0.0;       // data_loading + preprocessing on the steps' threads, in and between steps
  double iteration_time = 0.0;   // step time + input between steps: input_time / iteration_time is the input share
  double collective_time = 0.0;  // in collective communication (outermost calls)

  bool operator==(const StepTiming&) const = default;
};

struct Findings {
  std::vector<Bottleneck> bottlenecks;  // most important first
  Classification classification;
  StepTiming step_timing;
  std::vector<Trend> trends;
  std::vector<Recommendation> recommendations;  // most important first
  std::vector<Inconclusive> inconclusive;       // checks that could not conclude

  bool operator==(const Findings&) const = default;
};

}  // namespace codeprof
