#pragma once
// What a timeline shows of one or more snapshots, ready for a trace writer: processes with their
// threads' slices (raw events, or each operation's slowest calls when trace recording was off),
// the steps, and the sampler's series as counters, all on one clock in nanoseconds since `base_ns`
// (the earliest snapshot's origin). The merged Chrome trace and the Perfetto writer read it.
#include <cstdint>
#include <string>
#include <vector>

#include "codeprof/exporters.hpp"

namespace codeprof::io {

struct TimelineSlice {
  std::int64_t start_ns = 0;   // since base_ns
  std::int64_t duration_ns = 0;
  std::uint16_t depth = 0;
  const OperationStats* operation = nullptr;  // null: the operation is unknown
  const ProbeDeltas* probes = nullptr;        // null: no probe ran
  std::string label;                          // used when operation is null (steps: "step 12")
};

struct TimelineThread {
  std::int64_t tid = 0;
  std::string name;
  std::vector<TimelineSlice> slices;  // ascending by start
};

struct TimelineCounter {
  std::string name;  // e.g. "rss_bytes (bytes)"
  std::string unit;
  std::vector<std::int64_t> t_ns;  // since base_ns
  std::vector<double> values;
};

struct TimelineProcessModel {
  std::int64_t pid = 0;
  std::string name;
  std::int64_t sort_index = 0;
  std::vector<TimelineThread> threads;  // the steps' track last
  std::vector<TimelineCounter> counters;
};

struct TimelineModel {
  std::int64_t base_ns = 0;  // wall-clock origin (Unix ns) of time 0
  bool slowest_only = false; // some process had no raw events: its slices are its slowest calls
  std::vector<TimelineProcessModel> processes;
};

// tid of the steps' track of each process (above any thread index a snapshot uses).
inline constexpr std::int64_t kStepsTrackTid = 1'000'000'000;

TimelineModel build_timeline(const std::vector<TimelineProcess>& processes);

// "rank 2 · node-3 · pid 4242", or the command when the rank is unknown.
std::string default_process_name(const RunInfo& run);

}  // namespace codeprof::io
