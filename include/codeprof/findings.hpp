#pragma once
// What analysis concludes from a Snapshot: bottlenecks, classification, trends, recommendations.
// Plain data; produced by src/analysis, consumed by exporters, the dashboard and the CLI.
#include <cstdint>
#include <string>
#include <vector>

namespace codeprof {

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
  std::string severity;             // "critical", "warning" or "share"
  std::string optimization_priority;  // "high", "medium", "low"
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
  std::string kind;        // "slowdown", "memory_growth", "spike"
  std::string operation;   // empty for process-wide (e.g. RSS growth)
  std::string description; // one line with the numbers
  double magnitude = 0.0;  // slowdown: late/early ratio; memory_growth: bytes per step; spike: duration/p99
  double at_s = 0.0;       // when it happened / started (seconds since the run's origin)
  std::string method;      // statistic used, e.g. "median of first vs last quarter of windows"
};

struct Recommendation {
  std::string id;        // stable, e.g. "input-bound-workers"
  std::string type;      // category string or "system"
  std::string priority;  // "high", "medium", "low"
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
