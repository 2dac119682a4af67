#pragma once
// What analysis concludes from a Snapshot: bottlenecks, classification, trends, recommendations.
// Plain data; produced by src/analysis, consumed by exporters, the dashboard and the CLI.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace codeprof {

// How much acting on a finding matters, most first. Reports spell it "high", "medium", "low".
enum class Priority : std::uint8_t { High, Medium, Low };

inline constexpr std::array<std::string_view, 3> kPriorityNames = {"high", "medium", "low"};

constexpr std::string_view to_string(Priority p) noexcept { return kPriorityNames[static_cast<std::size_t>(p)]; }

constexpr std::optional<Priority> priority_from_string(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kPriorityNames.size(); ++i)
    if (kPriorityNames[i] == s) return static_cast<Priority>(i);
  return std::nullopt;
}

// Why an operation is a bottleneck: its mean or p95 is over its category's critical or warning
// threshold, or its calls are under them but take a large share of the run. Reports spell it
// "critical", "warning", "share".
enum class Severity : std::uint8_t { Critical, Warning, Share };

inline constexpr std::array<std::string_view, 3> kSeverityNames = {"critical", "warning", "share"};

constexpr std::string_view to_string(Severity s) noexcept { return kSeverityNames[static_cast<std::size_t>(s)]; }

constexpr std::optional<Severity> severity_from_string(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kSeverityNames.size(); ++i)
    if (kSeverityNames[i] == s) return static_cast<Severity>(i);
  return std::nullopt;
}

// What changed over the run: an operation got slower, memory kept growing, or single calls took
// far longer than the operation's p99. Reports spell it "slowdown", "memory_growth", "spike".
enum class TrendKind : std::uint8_t { Slowdown, MemoryGrowth, Spike };

inline constexpr std::array<std::string_view, 3> kTrendKindNames = {"slowdown", "memory_growth", "spike"};

constexpr std::string_view to_string(TrendKind k) noexcept { return kTrendKindNames[static_cast<std::size_t>(k)]; }

constexpr std::optional<TrendKind> trend_kind_from_string(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kTrendKindNames.size(); ++i)
    if (kTrendKindNames[i] == s) return static_cast<TrendKind>(i);
  return std::nullopt;
}

// One number that supports a finding.
struct Evidence {
  std::string metric;     // e.g. "input_share", "mean_duration_s", "cpu_efficiency"
  double value = 0.0;
  std::string unit;       // e.g. "s", "percent", "ratio", "bytes", "count"
  std::string operation;  // the operation it was measured on, empty for whole-run facts
};

struct Bottleneck {
  std::string operation;
  std::string type;                 // category string, e.g. "data_loading"
  double avg_duration = 0.0;        // seconds
  double p95_duration = 0.0;        // seconds
  std::uint64_t calls = 0;
  double total_time = 0.0;          // seconds
  double self_time = 0.0;           // seconds
  double share_of_wall = 0.0;       // self time / wall time of the run, 0..1
  Severity severity = Severity::Share;
  Priority optimization_priority = Priority::Low;
  std::string reason;               // one line with the numbers
};

struct InputPipelineClass {
  std::string level = "unknown";    // "highly", "moderately", "not", "unknown" (no steps)
  double input_share = 0.0;         // (data_loading + preprocessing) / step time, 0..1
  std::uint64_t steps = 0;
  double step_time = 0.0;           // seconds, total
  std::string step_source;          // how steps were found
};

struct GpuClass {
  bool available = false;           // any GPU data at all
  double idle_share = 0.0;          // share of step (or run) time the GPU was idle, 0..1
  double mean_utilization = 0.0;    // percent
  double peak_memory_fraction = 0.0;  // 0..1
  std::string source;               // "sampler", "trace", ""
};

struct CpuClass {
  double mean_efficiency = 0.0;     // CPU time / wall time over probed scopes, 0..1 (-1: unknown)
  double involuntary_switches_per_s = 0.0;
  bool contention_suspected = false;
  std::vector<std::string> waiting_operations;  // low-efficiency operations
};

struct Classification {
  InputPipelineClass input;
  GpuClass gpu;
  CpuClass cpu;
  std::string summary;  // one line
};

struct Trend {
  TrendKind kind = TrendKind::Slowdown;
  std::string operation;   // empty for process-wide (e.g. RSS growth)
  std::string description; // one line with the numbers
  double magnitude = 0.0;  // slowdown: late/early ratio; memory_growth: bytes per step; spike: duration/p99
  double at_s = 0.0;       // when it happened / started (seconds since the run's origin)
  std::string method;      // statistic used, e.g. "median of first vs last quarter of windows"
};

struct Recommendation {
  std::string id;        // stable, e.g. "input-bound-workers"
  std::string type;      // category string or "system"
  Priority priority = Priority::Low;
  std::string title;
  std::vector<Evidence> evidence;
  std::string evidence_text;  // the evidence in one readable line
  std::string action;         // what to change, concretely
};

// A check that could not conclude on this run, and why: what it needs and what the run had. A
// short run (a CI job, one stage of a pipeline) is a normal case, and "nothing found" there must
// not read as "nothing wrong".
struct Inconclusive {
  std::string check;  // e.g. "memory_growth", "slowdown", "input_bound", "batch-size-small"
  std::string needs;  // one line, e.g. "8 rss_bytes samples after the first quarter of the run"
  std::string had;    // one line, e.g. "5 samples over 0.44 s"
};

// Where the steps' time went, in seconds since the start (or the last reset): what the Prometheus
// counters, the live alerts and the comparison of the ranks of a distributed job read.
struct StepTiming {
  std::uint64_t steps = 0;
  double step_time = 0.0;        // inside the steps
  double input_time = 0.0;       // data_loading + preprocessing on the steps' threads, in and between steps
  double iteration_time = 0.0;   // step time + input between steps: input_time / iteration_time is the input share
  double collective_time = 0.0;  // in collective communication (outermost calls)
};

struct Findings {
  std::vector<Bottleneck> bottlenecks;  // most important first
  Classification classification;
  StepTiming step_timing;
  std::vector<Trend> trends;
  std::vector<Recommendation> recommendations;  // most important first
  std::vector<Inconclusive> inconclusive;       // checks that could not conclude
};

}  // namespace codeprof
