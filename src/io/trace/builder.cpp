#include "io/trace/builder.hpp"

#include <algorithm>
#include <climits>

#include "core/aggregator.hpp"
#include "io/trace/call_nesting.hpp"
#include "io/trace/gpu_activity.hpp"
#include "io/trace/json_errors.hpp"
#include "io/trace/json_scanner.hpp"

namespace codeprof::io::trace {
namespace {

constexpr std::size_t kMaxCounterPoints = 10'000;
constexpr std::size_t kMaxCounters = 256;
constexpr std::int64_t kMaxRank = 1 << 24;

std::string micros_text(std::int64_t ns) {
  std::string s = std::to_string(ns / 1000);
  if (const std::int64_t frac = (ns < 0 ? -ns : ns) % 1000) {
    std::string f = std::to_string(frac);
    s += "." + std::string(3 - f.size(), '0') + f;
  }
  return s;
}

std::int64_t integer_field(ondemand::value& v, const char* what, std::int64_t lo, std::int64_t hi) {
  std::int64_t x = 0;
  if (v.get_int64().get(x)) throw ValueProblem(std::string("expected ") + what + " to be an integer");
  if (x < lo || x > hi)
    throw ValueProblem(std::string("expected ") + what + " between " + std::to_string(lo) + " and " + std::to_string(hi) +
                       ", found " + std::to_string(x));
  return x;
}

std::string string_field(ondemand::value& v, const char* what) {
  std::string_view s;
  if (v.get_string().get(s)) throw ValueProblem(std::string("expected ") + what + " to be a string");
  return std::string(s);
}

ondemand::object object_of(ondemand::value& v, const char* what) {
  ondemand::object o;
  if (v.get_object().get(o)) throw ValueProblem(std::string("expected ") + what + " to be an object");
  return o;
}

// Iterates an object's fields, turning JSON errors into ValueProblems.
template <class F>
void for_each_field(ondemand::object& o, const char* what, F&& f) {
  for (auto result : o) {
    ondemand::field field;
    if (auto err = std::move(result).get(field))
      throw ValueProblem(std::string("expected valid JSON in ") + what + ": " + json_error_text(err));
    std::string_view key;
    if (field.unescaped_key().get(key)) throw ValueProblem(std::string("expected valid keys in ") + what);
    f(key, field.value());
  }
}

int clamp_int(std::int64_t v, int fallback) noexcept {
  return v >= 0 && v <= INT_MAX ? static_cast<int>(v) : fallback;
}

}  // namespace

TraceBuilder::TraceBuilder(std::string source_path, const TraceReadOptions& options)
    : source_path_(std::move(source_path)),
      options_(options),
      by_correlation_(static_cast<std::size_t>(options.sort_memory_bytes / 2 / sizeof(ActivityRecord)),
                      options.temp_directory),
      by_start_(static_cast<std::size_t>(options.sort_memory_bytes / 2 / sizeof(ActivityRecord)), options.temp_directory) {
  over_limit_.fill(UINT32_MAX);
}

// ------------------------------------------------------------------ interning

const CategoryClass& TraceBuilder::classify(std::string_view cat) {
  if (cat != last_cat_) {
    last_cat_.assign(cat);
    last_class_ = classify_category(cat);
  }
  return last_class_;
}

std::uint32_t TraceBuilder::intern(std::string_view name, Category category) {
  std::string key;
  key.reserve(name.size() + 1);
  key += static_cast<char>('A' + static_cast<int>(category));
  key += name;
  if (auto it = by_name_.find(key); it != by_name_.end()) return it->second;
  if (options_.max_operations && sites_.size() >= options_.max_operations) return over_limit(category);
  const auto id = static_cast<std::uint32_t>(sites_.size());
  sites_.push_back({std::string(name), category, "", 0});
  by_name_.emplace(std::move(key), id);
  return id;
}

std::uint32_t TraceBuilder::over_limit(Category category) {
  std::uint32_t& id = over_limit_[index_of(category)];
  if (id == UINT32_MAX) {
    id = static_cast<std::uint32_t>(sites_.size());
    sites_.push_back(
        {"(other operations: names beyond the first " + std::to_string(options_.max_operations) + ")", category, "", 0});
  }
  ++over_limit_calls_;
  return id;
}

bool TraceBuilder::is_over_limit(std::uint32_t id) const noexcept {
  return std::find(over_limit_.begin(), over_limit_.end(), id) != over_limit_.end();
}

std::uint32_t TraceBuilder::operation(const CategoryClass& cls, std::string_view name, NamedOperation* named) {
  const bool cpu = !is_gpu_activity(cls.kind);
  if (cpu && named && name.size() > 13 && name[0] == 'P' && name.compare(0, 13, "ProfilerStep#") == 0 &&
      !cls.codeprof && cls.kind != EventKind::RuntimeCall) {
    // Every step has its own name; they share one operation (and no map entry per step).
    *named = map_cpu_operation(name, cls);
    if (step_operation_ == UINT32_MAX) step_operation_ = intern(named->name, named->category);
    return step_operation_;
  }
  NameMap& by_name = by_class_[cls.op_class];
  if (auto it = by_name.find(name); it != by_name.end()) return it->second;
  NamedOperation op;
  if (cpu) {
    op = map_cpu_operation(name, cls);
  } else {
    op.name = name;
    op.category = Category::Gpu;
  }
  const std::uint32_t id = intern(op.name, op.category);
  // Names beyond the limit are not remembered (that is the memory the limit saves).
  if (!is_over_limit(id)) by_name.emplace(std::string(name), id);
  return id;
}

std::uint32_t TraceBuilder::cpu_thread(std::string_view pid, std::string_view tid) {
  if (last_thread_ != UINT32_MAX && pid == last_pid_ && tid == last_tid_) return last_thread_;
  std::string key;
  key.reserve(pid.size() + tid.size() + 1);
  key.append(pid).append(1, '\x1f').append(tid);
  std::uint32_t index;
  if (auto it = thread_index_.find(key); it != thread_index_.end()) {
    index = it->second;
  } else {
    index = static_cast<std::uint32_t>(threads_.size());
    threads_.push_back({std::string(pid), std::string(tid), false, 0, 0});
    thread_index_.emplace(std::move(key), index);
  }
  last_pid_.assign(pid);
  last_tid_.assign(tid);
  last_thread_ = index;
  return index;
}

std::uint32_t TraceBuilder::gpu_lane(int device, int stream) {
  auto [it, inserted] = lanes_.try_emplace({device, stream}, 0u);
  if (inserted) {
    it->second = static_cast<std::uint32_t>(threads_.size());
    threads_.push_back({"", "", true, device, stream});
  }
  return it->second;
}

// ------------------------------------------------------------------ events

ArgsWanted TraceBuilder::args_policy(const EventFields& f, void* self) noexcept {
  switch (f.ph) {
    case 'M':
      return ArgsWanted::Metadata;
    case 'C':
      return ArgsWanted::Counter;
    case 'X':
    case 'B': {
      if (!f.has_cat) return ArgsWanted::Gpu;
      const EventKind k = static_cast<TraceBuilder*>(self)->classify(f.cat).kind;
      return is_gpu_activity(k) || k == EventKind::RuntimeCall ? ArgsWanted::Gpu : ArgsWanted::None;
    }
    case 0:
      return ArgsWanted::All;  // "args" came before "ph"
    default:
      return ArgsWanted::None;
  }
}

void TraceBuilder::on_event(ondemand::object& event, std::uint64_t index) {
  read_event_fields(event, fields_, ArgsPolicy{&TraceBuilder::args_policy, this});
  switch (fields_.ph) {
    case 'X':
      complete(fields_, index);
      break;
    case 'B':
      begin(fields_);
      break;
    case 'E':
      end(fields_, index);
      break;
    case 'M':
      metadata(fields_);
      break;
    case 'C':
      counter(fields_);
      break;
    case 's':
    case 't':
    case 'f':
      ++flow_events_;
      break;
    case 'i':
    case 'I':
      ++instant_events_;
      break;
    case 0:
      throw ValueProblem("expected \"ph\" (the event type), found an event without it");
    default:
      ++other_events_;  // async, object, sample and mark events carry nothing for the model
      break;
  }
}

void TraceBuilder::push(const ActivityRecord& r) {
  if (r.correlation != 0 && (is_gpu_activity(r.kind) || r.kind == EventKind::RuntimeCall)) {
    by_correlation_.push(r);
  } else {
    by_start_.push(r);
  }
}

void TraceBuilder::complete(const EventFields& f, std::uint64_t index) {
  if (!f.has_name) throw ValueProblem("expected \"name\" in a complete (\"X\") event");
  if (!f.has_ts) throw ValueProblem("expected \"ts\" in a complete (\"X\") event");
  if (!f.has_dur) throw ValueProblem("expected \"dur\" in a complete (\"X\") event");
  if (f.dur_ns < 0) throw ValueProblem("expected \"dur\" to be zero or positive, found " + micros_text(f.dur_ns));
  const CategoryClass cls = classify(f.has_cat ? f.cat : std::string_view());
  if (cls.kineto) kineto_ = true;
  const std::int64_t start = f.ts_ns, end = f.ts_ns + f.dur_ns;
  switch (cls.kind) {
    case EventKind::ProfilerSpan:
      span_start_ = have_span_ ? std::min(span_start_, start) : start;
      span_end_ = have_span_ ? std::max(span_end_, end) : end;
      have_span_ = true;
      return;
    case EventKind::Ignored:
      ++ignored_events_;
      return;
    case EventKind::Sync:
      sync_ns_ = saturating_add(sync_ns_, f.dur_ns);
      return;
    default:
      break;
  }
  min_start_ = std::min(min_start_, start);
  max_end_ = std::max(max_end_, end);

  ActivityRecord r;
  r.start_ns = start;
  r.duration_ns = f.dur_ns;
  r.sequence = static_cast<std::uint32_t>(index);
  r.kind = cls.kind;
  if (is_gpu_activity(cls.kind)) {
    std::int64_t device = 0, stream = 0;
    if (f.has_device) {
      device = f.device;
    } else {
      parse_integer(f.pid, device);
    }
    if (f.has_stream) {
      stream = f.stream;
    } else {
      parse_integer(f.tid, stream);
    }
    r.thread = gpu_lane(clamp_int(device, 0), clamp_int(stream, INT_MAX));
    r.operation = options_.gpu_activities_as_operations ? operation(cls, f.name, nullptr) : 0;
    r.payload = f.has_bytes && f.bytes > 0 ? f.bytes : 0;
    r.correlation = f.has_correlation ? f.correlation : 0;
    ++gpu_activities_;
  } else {
    const std::string_view pid = f.has_pid ? f.pid : std::string_view("0");
    r.thread = cpu_thread(pid, f.has_tid ? f.tid : std::string_view("0"));
    NamedOperation named;
    r.operation = operation(cls, f.name, &named);
    if (named.is_step) steps_.push_back({named.step, start, end});
    r.payload = -1;
    if (cls.kind == EventKind::RuntimeCall) {
      if (f.has_correlation) r.correlation = f.correlation;
      if (f.name.find("Synchronize") != std::string_view::npos) runtime_sync_ns_ = saturating_add(runtime_sync_ns_, f.dur_ns);
    }
  }
  push(r);
}

void TraceBuilder::begin(const EventFields& f) {
  if (!f.has_name) throw ValueProblem("expected \"name\" in a begin (\"B\") event");
  if (!f.has_ts) throw ValueProblem("expected \"ts\" in a begin (\"B\") event");
  const std::uint32_t t = cpu_thread(f.has_pid ? f.pid : "0", f.has_tid ? f.tid : "0");
  if (open_.size() <= t) open_.resize(t + 1u);
  if (open_[t].size() >= CallNesting::kMaxDepth)
    throw ValueProblem("expected \"B\" events nested at most " + std::to_string(CallNesting::kMaxDepth) + " deep");
  open_[t].push_back({std::string(f.name), f.has_cat ? std::string(f.cat) : std::string("\x01"), std::string(f.pid),
                      std::string(f.tid), f.ts_ns, f.has_correlation, f.correlation});
}

void TraceBuilder::end(const EventFields& f, std::uint64_t index) {
  if (!f.has_ts) throw ValueProblem("expected \"ts\" in an end (\"E\") event");
  const std::uint32_t t = cpu_thread(f.has_pid ? f.pid : "0", f.has_tid ? f.tid : "0");
  if (open_.size() <= t || open_[t].empty()) {
    ++unmatched_end_events_;
    return;
  }
  const OpenBegin b = std::move(open_[t].back());
  open_[t].pop_back();
  if (f.ts_ns < b.ts_ns)
    throw ValueProblem("expected an \"E\" event at or after its \"B\" (ts " + micros_text(b.ts_ns) + "), found ts " +
                       micros_text(f.ts_ns));
  EventFields g;
  g.ph = 'X';
  g.name = b.name;
  g.has_name = true;
  g.has_cat = b.cat != "\x01";
  if (g.has_cat) g.cat = b.cat;
  g.pid = b.pid;
  g.tid = b.tid;
  g.has_pid = g.has_tid = true;
  g.ts_ns = b.ts_ns;
  g.has_ts = true;
  g.dur_ns = f.ts_ns - b.ts_ns;
  g.has_dur = true;
  g.has_correlation = b.has_correlation;
  g.correlation = b.correlation;
  complete(g, index);
}

void TraceBuilder::metadata(const EventFields& f) {
  if (!f.has_name || !f.has_arg_name) return;
  if (f.name == "process_name") {
    process_names_[std::string(f.pid)] = std::string(f.arg_name);
  } else if (f.name == "thread_name") {
    std::string key(f.pid);
    key.append(1, '\x1f').append(f.tid);
    thread_names_[key] = std::string(f.arg_name);
  }
}

void TraceBuilder::counter(const EventFields& f) {
  if (!f.has_name) throw ValueProblem("expected \"name\" in a counter (\"C\") event");
  if (!f.has_ts) throw ValueProblem("expected \"ts\" in a counter (\"C\") event");
  for (const CounterValue& cv : f.counters) {
    std::string name(f.name);
    if (cv.key != "value") name.append(".").append(cv.key);
    std::string unit;
    // codeprof writes "series (unit)".
    if (name.size() > 3 && name.back() == ')') {
      if (const auto open = name.rfind(" ("); open != std::string::npos) {
        unit = name.substr(open + 2, name.size() - open - 3);
        name.resize(open);
      }
    }
    auto it = counters_.find(name);
    if (it == counters_.end()) {
      if (counters_.size() >= kMaxCounters) {
        ++counters_dropped_;
        continue;
      }
      it = counters_.emplace(name, Counter{}).first;
      it->second.unit = unit;
    }
    Counter& c = it->second;
    if (c.seen++ % c.stride != 0) continue;
    c.t_ns.push_back(f.ts_ns);
    c.values.push_back(cv.value);
    if (c.t_ns.size() >= kMaxCounterPoints) {  // keep every other point from now on
      std::size_t k = 0;
      for (std::size_t i = 0; i < c.t_ns.size(); i += 2, ++k) {
        c.t_ns[k] = c.t_ns[i];
        c.values[k] = c.values[i];
      }
      c.t_ns.resize(k);
      c.values.resize(k);
      c.stride *= 2;
    }
  }
}

// ------------------------------------------------------------------ top-level keys

bool TraceBuilder::wants_top_level(std::string_view key) const {
  for (std::string_view k : {"distributedInfo", "deviceProperties", "baseTimeNanoseconds", "schemaVersion", "traceName",
                             "otherData", "cupti_version", "cuda_runtime_version", "cuda_driver_version"})
    if (key == k) return true;
  return false;
}

void TraceBuilder::on_top_level(std::string_view key, ondemand::value& value) {
  if (key == "distributedInfo") {
    read_distributed_info(value);
  } else if (key == "deviceProperties") {
    read_device_properties(value);
  } else if (key == "baseTimeNanoseconds") {
    base_ns_ = integer_field(value, "\"baseTimeNanoseconds\"", 0, INT64_MAX / 2);
    have_base_ = true;
  } else if (key == "schemaVersion") {
    kineto_ = true;
    std::string_view raw = value.raw_json_token();
    while (!raw.empty() && is_json_space(raw.back())) raw.remove_suffix(1);
    run_.metadata["kineto_schema_version"] = std::string(raw.substr(0, 32));
  } else if (key == "traceName") {
    std::string_view s;
    if (!value.get_string().get(s)) run_.metadata["trace_name"] = std::string(s);
  } else if (key == "otherData") {
    read_other_data(value);
  } else if (key == "cupti_version" || key == "cuda_runtime_version" || key == "cuda_driver_version") {
    kineto_ = true;
    std::int64_t v = 0;
    if (!value.get_int64().get(v)) run_.metadata[std::string(key)] = std::to_string(v);
  }
}

void TraceBuilder::read_distributed_info(ondemand::value& v) {
  ondemand::object o = object_of(v, "\"distributedInfo\"");
  for_each_field(o, "\"distributedInfo\"", [&](std::string_view key, ondemand::value& x) {
    if (key == "rank") {
      run_.rank = static_cast<int>(integer_field(x, "distributedInfo.rank", 0, kMaxRank));
    } else if (key == "world_size") {
      run_.world_size = static_cast<int>(integer_field(x, "distributedInfo.world_size", 1, kMaxRank));
    } else if (key == "backend") {
      run_.metadata["distributed_backend"] = string_field(x, "distributedInfo.backend");
    }
  });
  if (run_.rank >= 0 && run_.world_size > 0 && run_.rank >= run_.world_size)
    throw ValueProblem("expected distributedInfo.rank below world_size (" + std::to_string(run_.world_size) +
                       "), found " + std::to_string(run_.rank));
}

void TraceBuilder::read_device_properties(ondemand::value& v) {
  ondemand::array devices;
  if (v.get_array().get(devices)) throw ValueProblem("expected \"deviceProperties\" to be an array");
  std::size_t i = 0;
  for (auto element : devices) {
    ondemand::value d;
    if (auto err = element.get(d))
      throw ValueProblem(std::string("expected valid JSON in \"deviceProperties\": ") + json_error_text(err));
    const std::string what = "deviceProperties[" + std::to_string(i) + "]";
    ondemand::object o = object_of(d, what.c_str());
    GpuDeviceInfo gpu;
    gpu.index = static_cast<int>(i);
    for_each_field(o, what.c_str(), [&](std::string_view key, ondemand::value& x) {
      if (key == "id") {
        gpu.index = static_cast<int>(integer_field(x, (what + ".id").c_str(), 0, 1 << 20));
      } else if (key == "name") {
        gpu.name = string_field(x, (what + ".name").c_str());
      } else if (key == "totalGlobalMem") {
        gpu.memory_total_bytes = static_cast<std::uint64_t>(integer_field(x, (what + ".totalGlobalMem").c_str(), 0, INT64_MAX));
      }
    });
    run_.gpus.push_back(std::move(gpu));
    ++i;
  }
}

void TraceBuilder::read_other_data(ondemand::value& v) {
  ondemand::object o;
  if (v.get_object().get(o)) return;  // free-form in the Chrome format
  for_each_field(o, "\"otherData\"", [&](std::string_view key, ondemand::value& x) {
    std::string_view s;
    if (key == "producer") {
      if (x.get_string().get(s)) return;
      run_.metadata["producer"] = std::string(s);
      if (s.substr(0, 9) == "codeprof ") {
        codeprof_ = true;
        run_.version = std::string(s.substr(9));
      }
    } else if (key == "host") {
      if (!x.get_string().get(s)) run_.host = std::string(s);
    } else if (key == "command") {
      if (!x.get_string().get(s)) run_.command = std::string(s);
    } else if (key == "rank") {
      std::int64_t r = 0;
      if (!x.get_int64().get(r) && r >= 0 && r <= kMaxRank) run_.rank = static_cast<int>(r);
    } else if (key == "world_size" || key == "local_rank") {
      std::int64_t r = 0;
      if (!x.get_int64().get(r) && r >= 0 && r <= kMaxRank) (key == "world_size" ? run_.world_size : run_.local_rank) = static_cast<int>(r);
    } else if (key == "job_name") {
      if (!x.get_string().get(s)) run_.job_name = std::string(s);
    }
  });
}

// ------------------------------------------------------------------ the Snapshot

Snapshot TraceBuilder::finish(std::uint64_t trace_events) {
  const std::int64_t origin = time_origin();
  core::AggregatorOptions agg_options;
  agg_options.keep_trace = options_.trace_event_budget > 0;
  agg_options.trace_budget = options_.trace_event_budget;
  core::Aggregator aggregator(agg_options);
  describe_threads(aggregator);
  const std::uint64_t gpu_without_launch = attach_gpu_time_to_launches();

  Snapshot s;
  s.devices = replay_in_start_order(aggregator, origin);
  aggregator.fill(s, sites_);
  s.events_recorded_total = s.events_recorded;
  move_steps_and_counters(s, origin);
  describe_run(s, origin, trace_events, gpu_without_launch);
  return s;
}

// Times become relative to the run's origin: the profiler's span or the first event. codeprof's
// own traces are already relative to their baseTimeNanoseconds.
std::int64_t TraceBuilder::time_origin() const {
  std::int64_t origin = 0;
  if (!codeprof_) {
    if (min_start_ != std::numeric_limits<std::int64_t>::max()) origin = min_start_;
    if (have_span_) origin = min_start_ != std::numeric_limits<std::int64_t>::max() ? std::min(origin, span_start_) : span_start_;
  }
  return origin;
}

// Each thread index gets its OS id and name (GPU streams: "GPU d stream s").
void TraceBuilder::describe_threads(core::Aggregator& aggregator) const {
  for (std::uint32_t i = 0; i < threads_.size(); ++i) {
    const ThreadEntry& t = threads_[i];
    if (t.gpu) {
      aggregator.set_thread_info(i, static_cast<std::uint64_t>(t.stream),
                                 "GPU " + std::to_string(t.device) + " stream " + std::to_string(t.stream));
      continue;
    }
    std::int64_t os_tid = 0;
    if (!parse_integer(t.tid, os_tid) || os_tid < 0) os_tid = 0;
    auto it = thread_names_.find(t.pid + '\x1f' + t.tid);
    aggregator.set_thread_info(i, static_cast<std::uint64_t>(os_tid),
                               it != thread_names_.end() ? it->second : "thread " + t.tid);
  }
}

// Runtime calls learn the GPU time they launched: records meet by correlation id, and everything
// moves on to the start-order sort. Returns the GPU activities no launch claimed.
std::uint64_t TraceBuilder::attach_gpu_time_to_launches() {
  std::uint64_t gpu_without_launch = 0;
  std::int64_t group = 0, gpu_sum = 0;
  std::uint64_t gpu_in_group = 0;
  bool first = true;
  by_correlation_.drain([&](const ActivityRecord& rec) {
    if (first || rec.correlation != group) {
      gpu_without_launch += gpu_in_group;
      group = rec.correlation;
      gpu_sum = 0;
      gpu_in_group = 0;
      first = false;
    }
    if (is_gpu_activity(rec.kind)) {
      gpu_sum = saturating_add(gpu_sum, rec.duration_ns);
      ++gpu_in_group;
      by_start_.push(rec);
      return;
    }
    ActivityRecord launch = rec;
    if (gpu_in_group) {
      launch.payload = gpu_sum;
      gpu_in_group = 0;  // one launch per correlation id takes it
    }
    by_start_.push(launch);
  });
  return gpu_without_launch + gpu_in_group;
}

// Everything in start order: CPU slices nest into the aggregator, GPU activity merges into busy
// intervals (split by the steps). Returns the devices' activity.
std::vector<DeviceActivity> TraceBuilder::replay_in_start_order(core::Aggregator& aggregator, std::int64_t origin) {
  std::vector<std::pair<std::int64_t, std::int64_t>> step_intervals;
  step_intervals.reserve(steps_.size());
  for (const StepSpan& s : steps_) step_intervals.emplace_back(s.start_ns, s.end_ns);
  const IntervalSet step_set(std::move(step_intervals));

  CallNesting nesting(aggregator, origin);
  GpuActivity gpu(step_set.empty() ? nullptr : &step_set);
  by_start_.drain([&](const ActivityRecord& r) {
    if (!is_gpu_activity(r.kind)) {
      nesting.add(r.thread, r.operation, r.start_ns, r.duration_ns, r.payload);
      return;
    }
    const ThreadEntry& lane = threads_[r.thread];
    gpu.add(lane.device, lane.stream, r.kind, r.start_ns, r.duration_ns, static_cast<std::uint64_t>(r.payload));
    if (options_.gpu_activities_as_operations) {
      core::CompletedEvent e;
      e.operation_id = r.operation;
      e.thread_index = r.thread;
      e.start_ns = r.start_ns - origin;
      e.duration_ns = static_cast<std::uint64_t>(r.duration_ns);
      aggregator.add(e);
    }
  });
  nesting.finish();
  return gpu.finish();
}

// Steps (in start order) and counter series (in time order) move into the Snapshot, relative to
// the origin.
void TraceBuilder::move_steps_and_counters(Snapshot& s, std::int64_t origin) {
  std::sort(steps_.begin(), steps_.end(),
            [](const StepSpan& a, const StepSpan& b) { return a.start_ns != b.start_ns ? a.start_ns < b.start_ns : a.index < b.index; });
  for (StepSpan& st : steps_) {
    st.start_ns -= origin;
    st.end_ns -= origin;
  }
  s.steps = std::move(steps_);
  s.sync_ns = sync_ns_ > 0 ? sync_ns_ : runtime_sync_ns_;

  for (auto& entry : counters_) {
    const Counter& c = entry.second;  // (not a structured binding: lambdas capture it)
    TimelineSeries series;
    series.name = entry.first;
    series.unit = c.unit;
    std::vector<std::size_t> order(c.t_ns.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return c.t_ns[a] < c.t_ns[b]; });
    for (std::size_t i : order) {
      series.t_ns.push_back(c.t_ns[i] - origin);
      series.values.push_back(c.values[i]);
    }
    s.timelines.push_back(std::move(series));
  }
}

// RunInfo: the source, the main process (the one whose threads recorded the most CPU calls), the
// run's span, and in metadata what the trace held that the model does not.
void TraceBuilder::describe_run(Snapshot& s, std::int64_t origin, std::uint64_t trace_events, std::uint64_t gpu_without_launch) {
  RunInfo& run = s.run;
  run = std::move(run_);
  run.source = codeprof_ || !kineto_ ? "chrome-trace" : "kineto";
  run.source_path = source_path_;
  // The process: the one whose threads recorded the most CPU calls.
  std::map<std::string, std::uint64_t, std::less<>> calls_per_pid;
  for (const ThreadStats& t : s.threads)
    if (t.index < threads_.size() && !threads_[t.index].gpu) calls_per_pid[threads_[t.index].pid] += t.events;
  std::string main_pid;
  std::uint64_t most = 0;
  for (const auto& [p, calls] : calls_per_pid)
    if (calls > most) {
      most = calls;
      main_pid = p;
    }
  std::int64_t pid = 0;
  if (parse_integer(main_pid, pid)) run.pid = pid;
  if (run.command.empty()) {
    if (auto it = process_names_.find(main_pid); it != process_names_.end()) run.command = it->second;
  }
  run.start_unix_ns = (have_base_ ? base_ns_ : 0) + origin;
  const std::int64_t last = have_span_ ? std::max(span_end_, max_end_) : max_end_;
  run.wall_ns = last > origin ? last - origin : 0;
  run.enabled = true;
  run.category_mask = kAllCategoriesMask;

  auto& meta = run.metadata;
  meta["trace_format"] = bare_array_ ? "array" : "object";
  meta["trace_events"] = std::to_string(trace_events);
  meta["gpu_activities"] = std::to_string(gpu_activities_);
  if (gpu_without_launch) meta["gpu_activities_without_launch"] = std::to_string(gpu_without_launch);
  if (flow_events_) meta["flow_events"] = std::to_string(flow_events_);
  if (instant_events_) meta["instant_events"] = std::to_string(instant_events_);
  if (ignored_events_) meta["ignored_events"] = std::to_string(ignored_events_);
  if (other_events_) meta["other_events"] = std::to_string(other_events_);
  if (unmatched_end_events_) meta["unmatched_end_events"] = std::to_string(unmatched_end_events_);
  std::uint64_t unclosed = 0;
  for (const auto& stack : open_) unclosed += stack.size();
  if (unclosed) meta["unclosed_begin_events"] = std::to_string(unclosed);
  if (counters_dropped_) meta["counter_series_dropped"] = std::to_string(counters_dropped_);
  if (over_limit_calls_) {
    meta["operation_calls_over_limit"] = std::to_string(over_limit_calls_);
    run.unavailable.push_back(
        {"operations", "more than " + std::to_string(options_.max_operations) +
                           " distinct operation names: the calls of the names beyond them (" +
                           std::to_string(over_limit_calls_) +
                           ") are counted together as \"(other operations: ...)\" (TraceReadOptions::max_operations)"});
  }
}

}  // namespace codeprof::io::trace
