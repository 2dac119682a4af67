#pragma once
// Collects a trace's events as they stream by and builds the Snapshot at the end.
//
// While reading: names are interned into operations (kineto_mapping.hpp), threads and GPU
// streams into thread indexes, steps, counters, metadata and sync time are accumulated, and each
// slice becomes a 48-byte record. Records are ordered before use (bounded memory, spilling to a
// temporary file): runtime calls and GPU activity meet by correlation id first, so that each
// launch knows the GPU time it started; then everything is replayed in start order through the
// call nesting (CPU) and the interval unions (GPU) into the core's Aggregator.
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "codeprof/call_site.hpp"
#include "codeprof/trace_reader.hpp"
#include "io/trace/event_fields.hpp"
#include "io/trace/external_sort.hpp"
#include "io/trace/json_stream.hpp"
#include "io/trace/kineto_mapping.hpp"

namespace codeprof::core {
class Aggregator;
}

namespace codeprof::io::trace {

struct ActivityRecord {
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  std::int64_t correlation = 0;
  std::int64_t payload = 0;        // GPU activity: bytes; runtime call: GPU ns it launched (-1: none)
  std::uint32_t operation = 0;
  std::uint32_t thread = 0;        // thread index (a GPU stream has one too)
  std::uint32_t sequence = 0;      // file order, breaks ties
  EventKind kind = EventKind::CpuSlice;
};

struct ByStart {
  bool operator()(const ActivityRecord& a, const ActivityRecord& b) const noexcept {
    if (a.start_ns != b.start_ns) return a.start_ns < b.start_ns;
    if (a.duration_ns != b.duration_ns) return a.duration_ns > b.duration_ns;  // parents first
    return a.sequence < b.sequence;
  }
};

struct ByCorrelation {  // GPU activity before the runtime call that launched it
  bool operator()(const ActivityRecord& a, const ActivityRecord& b) const noexcept {
    if (a.correlation != b.correlation) return a.correlation < b.correlation;
    const bool ga = is_gpu_activity(a.kind), gb = is_gpu_activity(b.kind);
    if (ga != gb) return ga;
    return a.sequence < b.sequence;
  }
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using NameMap = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;

class TraceBuilder final : public TraceStreamHandler {
 public:
  TraceBuilder(std::string source_path, const TraceReadOptions& options);

  bool wants_top_level(std::string_view key) const override;
  void on_top_level(std::string_view key, ondemand::value& value) override;
  void on_event(ondemand::object& event, std::uint64_t index) override;
  void on_bare_array() override { bare_array_ = true; }

  Snapshot finish(std::uint64_t trace_events);

 private:
  struct ThreadEntry {
    std::string pid, tid;  // CPU threads: the trace's tokens
    bool gpu = false;
    int device = 0, stream = 0;
  };
  struct OpenBegin {  // a "B" event waiting for its "E"
    std::string name, cat, pid, tid;
    std::int64_t ts_ns;
    bool has_correlation;
    std::int64_t correlation;
  };
  struct Counter {
    std::string unit;
    std::vector<std::int64_t> t_ns;
    std::vector<double> values;
    std::uint64_t stride = 1, seen = 0;  // keeps every stride-th point when full
  };

  static ArgsWanted args_policy(const EventFields& f, void* self) noexcept;
  const CategoryClass& classify(std::string_view cat);
  std::uint32_t operation(const CategoryClass& cls, std::string_view name, NamedOperation* named);
  std::uint32_t intern(std::string_view name, Category category);
  std::uint32_t over_limit(Category category);
  bool is_over_limit(std::uint32_t id) const noexcept;
  std::uint32_t cpu_thread(std::string_view pid, std::string_view tid);
  std::uint32_t gpu_lane(int device, int stream);

  void complete(const EventFields& f, std::uint64_t index);
  void begin(const EventFields& f);
  void end(const EventFields& f, std::uint64_t index);
  void metadata(const EventFields& f);
  void counter(const EventFields& f);
  void push(const ActivityRecord& r);

  // finish(), phase by phase.
  std::int64_t time_origin() const;
  void describe_threads(core::Aggregator& aggregator) const;
  std::uint64_t attach_gpu_time_to_launches();
  std::vector<DeviceActivity> replay_in_start_order(core::Aggregator& aggregator, std::int64_t origin);
  void move_steps_and_counters(Snapshot& s, std::int64_t origin);
  void describe_run(Snapshot& s, std::int64_t origin, std::uint64_t trace_events, std::uint64_t gpu_without_launch);

  void read_distributed_info(ondemand::value& v);
  void read_device_properties(ondemand::value& v);
  void read_other_data(ondemand::value& v);

  std::string source_path_;
  const TraceReadOptions& options_;
  EventFields fields_;

  // Operations: per category class, the trace's name -> operation id; ids name sites_.
  std::array<NameMap, kOpClassCount> by_class_;
  NameMap by_name_;  // category letter + display name -> id
  std::vector<SiteInfo> sites_;
  std::uint32_t step_operation_ = UINT32_MAX;
  // Per category: the operation that takes the names beyond options.max_operations (UINT32_MAX:
  // none yet), and how many calls went there.
  std::array<std::uint32_t, kCategoryCount> over_limit_;
  std::uint64_t over_limit_calls_ = 0;

  std::string last_cat_ = "\x01";
  CategoryClass last_class_;

  std::vector<ThreadEntry> threads_;
  NameMap thread_index_;
  std::string last_pid_, last_tid_;
  std::uint32_t last_thread_ = UINT32_MAX;
  std::map<std::pair<int, int>, std::uint32_t> lanes_;
  std::map<std::string, std::string, std::less<>> thread_names_;   // pid \x1f tid -> name (from "M")
  std::map<std::string, std::string, std::less<>> process_names_;  // pid -> name
  std::vector<std::vector<OpenBegin>> open_;                       // per thread

  ExternalSorter<ActivityRecord, ByCorrelation> by_correlation_;
  ExternalSorter<ActivityRecord, ByStart> by_start_;

  std::vector<StepSpan> steps_;  // absolute times until finish()
  std::map<std::string, Counter, std::less<>> counters_;
  std::uint64_t counters_dropped_ = 0;

  std::int64_t min_start_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_end_ = std::numeric_limits<std::int64_t>::min();
  bool have_span_ = false;
  std::int64_t span_start_ = 0, span_end_ = 0;
  std::int64_t sync_ns_ = 0, runtime_sync_ns_ = 0;

  bool bare_array_ = false;
  bool kineto_ = false;
  bool codeprof_ = false;
  bool have_base_ = false;
  std::int64_t base_ns_ = 0;
  RunInfo run_;
  // Events that carry nothing for the model, counted for RunInfo::metadata.
  std::uint64_t flow_events_ = 0, instant_events_ = 0, other_events_ = 0, ignored_events_ = 0;
  std::uint64_t unmatched_end_events_ = 0, gpu_activities_ = 0;
};

}  // namespace codeprof::io::trace
