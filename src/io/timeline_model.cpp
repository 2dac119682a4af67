#include "io/timeline_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

namespace codeprof::io {

std::string default_process_name(const RunInfo& run) {
  std::string name;
  if (run.rank >= 0) name = "rank " + std::to_string(run.rank);
  if (!run.job_name.empty() && name.empty()) name = run.job_name;
  if (!run.host.empty()) name += (name.empty() ? "" : " · ") + run.host;
  if (run.pid > 0) name += (name.empty() ? "" : " · ") + std::string("pid ") + std::to_string(run.pid);
  if (run.rank < 0 && !run.command.empty()) name += (name.empty() ? "" : " · ") + run.command;
  return name.empty() ? "codeprof" : name;
}

TimelineModel build_timeline(const std::vector<TimelineProcess>& processes) {
  TimelineModel model;
  model.base_ns = std::numeric_limits<std::int64_t>::max();
  for (const auto& p : processes) model.base_ns = std::min(model.base_ns, p.snapshot->run.start_unix_ns);
  if (processes.empty()) model.base_ns = 0;

  // The ranks become the process ids when they tell the processes apart.
  std::set<int> ranks;
  bool ranks_distinct = true;
  for (const auto& p : processes)
    if (p.snapshot->run.rank < 0 || !ranks.insert(p.snapshot->run.rank).second) ranks_distinct = false;

  for (std::size_t i = 0; i < processes.size(); ++i) {
    const TimelineProcess& in = processes[i];
    const Snapshot& s = *in.snapshot;
    const std::int64_t offset = s.run.start_unix_ns - model.base_ns;
    TimelineProcessModel out;
    out.pid = in.pid >= 0 ? in.pid : ranks_distinct ? s.run.rank : static_cast<std::int64_t>(i + 1);
    out.name = in.name.empty() ? default_process_name(s.run) : in.name;
    out.sort_index = ranks_distinct ? s.run.rank : static_cast<std::int64_t>(i);

    std::unordered_map<std::uint32_t, const OperationStats*> by_id;
    for (const auto& op : s.operations) by_id.emplace(op.id, &op);
    std::unordered_map<std::uint32_t, std::size_t> thread_at;
    const auto thread = [&](std::uint32_t index) -> TimelineThread& {
      auto [it, inserted] = thread_at.try_emplace(index, out.threads.size());
      if (inserted) {
        TimelineThread t;
        t.tid = index;
        t.name = "thread " + std::to_string(index);
        for (const auto& info : s.threads)
          if (info.index == index) {
            if (!info.name.empty()) t.name = info.name;
            if (info.os_tid) t.name += " [tid " + std::to_string(info.os_tid) + "]";
          }
        out.threads.push_back(std::move(t));
      }
      return out.threads[it->second];
    };
    for (const auto& t : s.threads) thread(t.index);

    if (!s.trace_events.empty()) {
      for (const auto& ev : s.trace_events) {
        const auto it = by_id.find(ev.operation_id);
        TimelineSlice slice;
        slice.start_ns = ev.start_ns + offset;
        slice.duration_ns = std::max<std::int64_t>(0, ev.duration_ns);
        slice.depth = ev.depth;
        slice.operation = it == by_id.end() ? nullptr : it->second;
        slice.probes = ev.probes.valid ? &ev.probes : nullptr;
        if (!slice.operation) slice.label = "unknown operation";
        thread(ev.thread_index).slices.push_back(std::move(slice));
      }
    } else {
      model.slowest_only = true;
      for (const auto& op : s.operations)
        for (const auto& call : op.slowest) {
          TimelineSlice slice;
          slice.start_ns = call.start_ns + offset;
          slice.duration_ns = static_cast<std::int64_t>(call.duration_ns);
          slice.operation = &op;
          thread(call.thread_index).slices.push_back(std::move(slice));
        }
    }
    for (auto& t : out.threads)
      std::stable_sort(t.slices.begin(), t.slices.end(), [](const TimelineSlice& a, const TimelineSlice& b) {
        if (a.start_ns != b.start_ns) return a.start_ns < b.start_ns;
        return a.duration_ns > b.duration_ns;  // the enclosing call first
      });

    if (!s.steps.empty()) {
      TimelineThread steps;
      steps.tid = kStepsTrackTid;
      steps.name = "steps";
      for (const auto& st : s.steps) {
        TimelineSlice slice;
        slice.start_ns = st.start_ns + offset;
        slice.duration_ns = std::max<std::int64_t>(0, st.end_ns - st.start_ns);
        slice.label = "step " + std::to_string(st.index);
        steps.slices.push_back(std::move(slice));
      }
      std::stable_sort(steps.slices.begin(), steps.slices.end(),
                       [](const TimelineSlice& a, const TimelineSlice& b) { return a.start_ns < b.start_ns; });
      out.threads.push_back(std::move(steps));
    }

    for (const auto& series : s.timelines) {
      TimelineCounter c;
      c.name = series.unit.empty() ? series.name : series.name + " (" + series.unit + ")";
      c.unit = series.unit;
      for (std::size_t k = 0; k < series.t_ns.size() && k < series.values.size(); ++k) {
        if (!std::isfinite(series.values[k])) continue;
        c.t_ns.push_back(series.t_ns[k] + offset);
        c.values.push_back(series.values[k]);
      }
      if (!c.t_ns.empty()) out.counters.push_back(std::move(c));
    }
    model.processes.push_back(std::move(out));
  }
  return model;
}

}  // namespace codeprof::io
