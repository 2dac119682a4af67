// to_chrome_trace: the Chrome trace event format (JSON object form) that Perfetto and
// chrome://tracing open. Complete "X" events carry the category and the probe deltas; "M" events
// name the process and threads; "C" events draw the sampler's series as counter tracks.
//
// Without trace recording (Config::trace_enabled off) there are no raw events; the trace then
// holds the slowest calls of each operation, which the statistics keep with their real start,
// duration and thread. They are true events, never invented ones, and otherData.codeprof_events
// says which of the two the file holds.
//
// Written by hand rather than through a JSON DOM: a trace can hold millions of events.
#include <charconv>
#include <cmath>
#include <string>
#include <unordered_map>

#include "codeprof/exporters.hpp"
#include "codeprof/version.hpp"
#include "io/report_schema.hpp"
#include "io/text_output.hpp"
#include "io/timeline_model.hpp"

namespace codeprof::io {
namespace {

// Integers without a temporary string: this runs once per field of millions of events.
template <typename Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Microseconds with nanosecond precision, exactly: "1234.567".
void append_micros(std::string& out, std::int64_t ns) {
  if (ns < 0) {
    out += '-';
    ns = -ns;  // |ns| < 2^63 for any time a snapshot holds
  }
  append_int(out, ns / 1000);
  const auto frac = static_cast<int>(ns % 1000);
  if (frac) {
    const char digits[] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                           static_cast<char>('0' + frac % 10)};
    out.append(digits, sizeof digits);
  }
}

class TraceBuilder {
 public:
  explicit TraceBuilder(std::int64_t pid) : pid_(std::to_string(pid)) { out_ = "{\"traceEvents\":[\n"; }

  // The process the next events belong to (merged timelines hold several).
  void set_pid(std::int64_t pid) { pid_ = std::to_string(pid); }
  void process_sort_index(std::int64_t index) {
    begin_event();
    out_ += "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":" + pid_ + ",\"tid\":0,\"args\":{\"sort_index\":" +
            std::to_string(index) + "}}";
  }
  // A complete event that is not an operation (a step).
  void complete_named(std::string_view name, std::string_view category, std::int64_t tid, std::int64_t start_ns,
                      std::int64_t duration_ns) {
    begin_event();
    out_ += "{\"ph\":\"X\",\"name\":";
    append_json_string(out_, name);
    out_ += ",\"cat\":";
    append_json_string(out_, category);
    out_ += ",\"ts\":";
    append_micros(out_, start_ns);
    out_ += ",\"dur\":";
    append_micros(out_, duration_ns);
    out_ += ",\"pid\":" + pid_ + ",\"tid\":";
    append_int(out_, tid);
    out_ += '}';
  }
  // The end of a merged timeline: what each process is, and the clock they share.
  std::string finish_merged(const std::vector<TimelineProcess>& processes, const TimelineModel& model) {
    out_ += "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":";
    append_json_string(out_, std::string("codeprof ") + kVersion);
    out_ += ",\"codeprof_events\":";
    out_ += model.slowest_only ? "\"slowest calls per operation for the processes without trace recording\""
                               : "\"all recorded calls\"";
    out_ += ",\"clock\":\"each process aligned on the wall-clock time of its origin (start_unix_ns)\",\"processes\":[";
    for (std::size_t i = 0; i < processes.size(); ++i) {
      const RunInfo& run = processes[i].snapshot->run;
      if (i) out_ += ',';
      out_ += "{\"pid\":" + std::to_string(model.processes[i].pid) + ",\"name\":";
      append_json_string(out_, model.processes[i].name);
      out_ += ",\"rank\":" + std::to_string(run.rank) + ",\"host\":";
      append_json_string(out_, run.host);
      out_ += ",\"source_path\":";
      append_json_string(out_, run.source_path);
      out_ += ",\"start_unix_ns\":" + std::to_string(run.start_unix_ns) + ",\"offset_ns\":" +
              std::to_string(run.start_unix_ns - model.base_ns) + "}";
    }
    out_ += "]},\"baseTimeNanoseconds\":" + std::to_string(model.base_ns) + "}\n";
    return std::move(out_);
  }

  void metadata(std::string_view name, std::uint64_t tid, std::string_view arg_key, std::string_view arg_value) {
    begin_event();
    out_ += "{\"ph\":\"M\",\"name\":";
    append_json_string(out_, name);
    out_ += ",\"pid\":" + pid_ + ",\"tid\":" + std::to_string(tid) + ",\"args\":{";
    append_json_string(out_, arg_key);
    out_ += ':';
    append_json_string(out_, arg_value);
    out_ += "}}";
  }
  void sort_index(std::uint64_t tid, std::uint64_t index) {
    begin_event();
    out_ += "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":" + pid_ + ",\"tid\":" + std::to_string(tid) +
            ",\"args\":{\"sort_index\":" + std::to_string(index) + "}}";
  }

  void complete(const OperationStats* op, std::uint32_t thread, std::int64_t start_ns, std::int64_t duration_ns,
                const ProbeDeltas* probes, bool slowest_only) {
    begin_event();
    out_ += "{\"ph\":\"X\",\"name\":";
    append_json_string(out_, op ? std::string_view(op->name) : std::string_view("unknown operation"));
    out_ += ",\"cat\":";
    append_json_string(out_, op ? to_string(op->category) : std::string_view("custom"));
    out_ += ",\"ts\":";
    append_micros(out_, start_ns);
    out_ += ",\"dur\":";
    append_micros(out_, duration_ns);
    out_ += ",\"pid\":";
    out_ += pid_;
    out_ += ",\"tid\":";
    append_int(out_, thread);
    bool first_arg = true;
    const auto arg = [&](std::string_view key) {
      out_ += first_arg ? ",\"args\":{\"" : ",\"";
      first_arg = false;
      out_ += key;
      out_ += "\":";
    };
    if (probes && probes->valid) {
      for (const auto& info : kResourceMetrics) {
        if (!probes->has(info.metric)) continue;
        arg(info.key);
        out_ += format_double(static_cast<double>(probes->get(info.metric)) * info.scale);
      }
    }
    if (slowest_only) {
      arg("codeprof");
      out_ += "\"one of the slowest calls\"";
    }
    out_ += first_arg ? "}" : "}}";
  }

  void counter(std::string_view name, std::int64_t t_ns, double value) {
    begin_event();
    out_ += "{\"ph\":\"C\",\"name\":";
    append_json_string(out_, name);
    out_ += ",\"ts\":";
    append_micros(out_, t_ns);
    out_ += ",\"pid\":" + pid_ + ",\"args\":{\"value\":" + format_double(value) + "}}";
  }

  // Room for `events` complete events of typical size, so the buffer is not copied as it grows.
  void reserve(std::size_t events) { out_.reserve(out_.size() + events * 120); }

  std::string finish(const Snapshot& s, bool slowest_only) {
    out_ += "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":";
    append_json_string(out_, std::string("codeprof ") + kVersion);
    out_ += ",\"codeprof_events\":";
    out_ += slowest_only ? "\"slowest calls per operation (trace recording was off)\"" : "\"all recorded calls\"";
    out_ += ",\"host\":";
    append_json_string(out_, s.run.host);
    out_ += ",\"command\":";
    append_json_string(out_, s.run.command);
    out_ += ",\"start_time\":";
    append_json_string(out_, iso8601_utc(s.run.start_unix_ns));
    out_ += ",\"trace_events_dropped\":" + std::to_string(s.trace_events_dropped);
    if (!slowest_only && !s.trace_policy.empty()) {
      // Which part of the run the events cover (trace.policy: the first or the most recent ones).
      out_ += ",\"trace_window\":{\"policy\":";
      append_json_string(out_, s.trace_policy);
      out_ += ",\"start_us\":";
      append_micros(out_, s.trace_window_start_ns);
      out_ += ",\"end_us\":";
      append_micros(out_, s.trace_window_end_ns);
      out_ += ",\"events_outside\":" + std::to_string(s.trace_events_dropped) + "}";
    }
    if (s.run.rank >= 0) out_ += ",\"rank\":" + std::to_string(s.run.rank);
    if (s.run.world_size >= 0) out_ += ",\"world_size\":" + std::to_string(s.run.world_size);
    if (s.run.local_rank >= 0) out_ += ",\"local_rank\":" + std::to_string(s.run.local_rank);
    if (!s.run.job_name.empty()) {
      out_ += ",\"job_name\":";
      append_json_string(out_, s.run.job_name);
    }
    // Timestamps are relative to the run's origin, as in PyTorch profiler traces.
    out_ += "},\"baseTimeNanoseconds\":" + std::to_string(s.run.start_unix_ns) + "}\n";
    return std::move(out_);
  }

 private:
  void begin_event() {
    if (!first_) out_ += ",\n";
    first_ = false;
  }
  std::string pid_;
  std::string out_;
  bool first_ = true;
};

}  // namespace

std::string to_chrome_trace(const Snapshot& s) {
  TraceBuilder trace(s.run.pid);
  std::string process = "codeprof";
  if (!s.run.command.empty()) process += ": " + s.run.command;
  if (s.run.rank >= 0) process += " (rank " + std::to_string(s.run.rank) + ")";
  trace.metadata("process_name", 0, "name", process);

  // Thread index is the trace's tid: OS thread ids can be reused after a thread ends, and
  // reusing a tid would merge two threads' timelines. The OS tid goes into the name.
  for (const auto& t : s.threads) {
    std::string name = t.name.empty() ? "thread " + std::to_string(t.index) : t.name;
    if (t.os_tid) name += " [tid " + std::to_string(t.os_tid) + "]";
    trace.metadata("thread_name", t.index, "name", name);
    trace.sort_index(t.index, t.index);
  }

  const bool slowest_only = s.trace_events.empty();
  trace.reserve(s.trace_events.size());
  if (!slowest_only) {
    std::unordered_map<std::uint32_t, const OperationStats*> by_id;
    for (const auto& op : s.operations) by_id.emplace(op.id, &op);
    for (const auto& ev : s.trace_events) {
      const auto it = by_id.find(ev.operation_id);
      trace.complete(it == by_id.end() ? nullptr : it->second, ev.thread_index, ev.start_ns, ev.duration_ns, &ev.probes, false);
    }
  } else {
    for (const auto& op : s.operations)
      for (const auto& call : op.slowest)
        trace.complete(&op, call.thread_index, call.start_ns, static_cast<std::int64_t>(call.duration_ns), nullptr, true);
  }

  for (const auto& series : s.timelines) {
    const std::string name = series.unit.empty() ? series.name : series.name + " (" + series.unit + ")";
    for (std::size_t i = 0; i < series.t_ns.size() && i < series.values.size(); ++i)
      if (std::isfinite(series.values[i])) trace.counter(name, series.t_ns[i], series.values[i]);
  }
  return trace.finish(s, slowest_only);
}

std::string to_chrome_trace(const std::vector<TimelineProcess>& processes) {
  const TimelineModel model = build_timeline(processes);
  TraceBuilder trace(0);
  std::size_t events = 0;
  for (const auto& p : model.processes)
    for (const auto& t : p.threads) events += t.slices.size();
  trace.reserve(events);
  for (const auto& p : model.processes) {
    trace.set_pid(p.pid);
    trace.metadata("process_name", 0, "name", p.name);
    trace.process_sort_index(p.sort_index);
    for (const auto& t : p.threads) {
      trace.metadata("thread_name", static_cast<std::uint64_t>(t.tid), "name", t.name);
      trace.sort_index(static_cast<std::uint64_t>(t.tid), static_cast<std::uint64_t>(t.tid));
      for (const auto& slice : t.slices) {
        if (slice.operation || slice.label.empty())
          trace.complete(slice.operation, static_cast<std::uint32_t>(t.tid), slice.start_ns, slice.duration_ns, slice.probes,
                         false);
        else
          trace.complete_named(slice.label, "step", t.tid, slice.start_ns, slice.duration_ns);
      }
    }
    for (const auto& c : p.counters)
      for (std::size_t i = 0; i < c.t_ns.size(); ++i) trace.counter(c.name, c.t_ns[i], c.values[i]);
  }
  return trace.finish_merged(processes, model);
}

}  // namespace codeprof::io
