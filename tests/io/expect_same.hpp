#pragma once
// Field-by-field comparisons of Snapshots and Findings for round-trip tests: every number the
// report carries. Not compared: run.source/source_path (they say where a copy came from), the
// metadata a reader adds, and the raw trace events (not part of a report).
#include <gtest/gtest.h>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::test {

inline void expect_same_hot_spots(const std::vector<HotSpot>& a, const std::vector<HotSpot>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].function, b[i].function);
    EXPECT_EQ(a[i].file, b[i].file);
    EXPECT_EQ(a[i].line, b[i].line);
    EXPECT_EQ(a[i].samples, b[i].samples);
    EXPECT_EQ(a[i].share, b[i].share);
  }
}

inline void expect_same_alloc_sites(const std::vector<AllocSite>& a, const std::vector<AllocSite>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].function, b[i].function);
    EXPECT_EQ(a[i].file, b[i].file);
    EXPECT_EQ(a[i].line, b[i].line);
    EXPECT_EQ(a[i].samples, b[i].samples);
    EXPECT_EQ(a[i].bytes, b[i].bytes);
    EXPECT_EQ(a[i].share, b[i].share);
  }
}

inline void expect_same_operation(const OperationStats& a, const OperationStats& b) {
  SCOPED_TRACE(a.name);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.category, b.category);
  EXPECT_EQ(a.file, b.file);
  EXPECT_EQ(a.line, b.line);
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.total_ns, b.total_ns);
  EXPECT_EQ(a.self_ns, b.self_ns);
  EXPECT_EQ(a.min_ns, b.min_ns);
  EXPECT_EQ(a.max_ns, b.max_ns);
  EXPECT_DOUBLE_EQ(a.mean_ns, b.mean_ns);
  EXPECT_DOUBLE_EQ(a.stddev_ns, b.stddev_ns);
  EXPECT_EQ(a.p50_ns, b.p50_ns);
  EXPECT_EQ(a.p90_ns, b.p90_ns);
  EXPECT_EQ(a.p95_ns, b.p95_ns);
  EXPECT_EQ(a.p99_ns, b.p99_ns);
  EXPECT_EQ(a.first_seen_ns, b.first_seen_ns);
  EXPECT_EQ(a.last_seen_ns, b.last_seen_ns);
  ASSERT_EQ(a.histogram.size(), b.histogram.size());
  for (std::size_t i = 0; i < a.histogram.size(); ++i) {
    EXPECT_EQ(a.histogram[i].lower_ns, b.histogram[i].lower_ns);
    EXPECT_EQ(a.histogram[i].upper_ns, b.histogram[i].upper_ns);
    EXPECT_EQ(a.histogram[i].count, b.histogram[i].count);
  }
  ASSERT_EQ(a.series.size(), b.series.size());
  for (std::size_t i = 0; i < a.series.size(); ++i) {
    EXPECT_EQ(a.series[i].start_ns, b.series[i].start_ns);
    EXPECT_EQ(a.series[i].width_ns, b.series[i].width_ns);
    EXPECT_EQ(a.series[i].count, b.series[i].count);
    EXPECT_EQ(a.series[i].total_ns, b.series[i].total_ns);
    EXPECT_EQ(a.series[i].min_ns, b.series[i].min_ns);
    EXPECT_EQ(a.series[i].max_ns, b.series[i].max_ns);
  }
  ASSERT_EQ(a.slowest.size(), b.slowest.size());
  for (std::size_t i = 0; i < a.slowest.size(); ++i) {
    EXPECT_EQ(a.slowest[i].start_ns, b.slowest[i].start_ns);
    EXPECT_EQ(a.slowest[i].duration_ns, b.slowest[i].duration_ns);
    EXPECT_EQ(a.slowest[i].thread_index, b.slowest[i].thread_index);
  }
  for (std::size_t k = 0; k < kProbeMetricCount; ++k) {
    SCOPED_TRACE(kProbeMetricNames[k]);
    EXPECT_EQ(a.resources[k].samples, b.resources[k].samples);
    EXPECT_EQ(a.resources[k].total, b.resources[k].total);
    EXPECT_EQ(a.resources[k].min, b.resources[k].min);
    EXPECT_EQ(a.resources[k].max, b.resources[k].max);
  }
  EXPECT_EQ(a.cpu_samples, b.cpu_samples);
  expect_same_hot_spots(a.hot_functions, b.hot_functions);
  expect_same_hot_spots(a.hot_lines, b.hot_lines);
  EXPECT_EQ(a.alloc_samples, b.alloc_samples);
  EXPECT_EQ(a.alloc_sampled_bytes, b.alloc_sampled_bytes);
  EXPECT_EQ(a.live_sampled_bytes, b.live_sampled_bytes);
  EXPECT_EQ(a.peak_live_sampled_bytes, b.peak_live_sampled_bytes);
  expect_same_alloc_sites(a.hot_allocations, b.hot_allocations);
  expect_same_alloc_sites(a.live_at_end, b.live_at_end);
}

// Line-level sampling: what ran and the profile, every field.
inline void expect_same_sampling(const Snapshot& a, const Snapshot& b) {
  const SamplingInfo &x = a.sampling, &y = b.sampling;
  EXPECT_EQ(x.enabled, y.enabled);
  EXPECT_EQ(x.unwinder, y.unwinder);
  ASSERT_EQ(x.sources.size(), y.sources.size());
  for (std::size_t i = 0; i < x.sources.size(); ++i) {
    EXPECT_EQ(x.sources[i].name, y.sources[i].name);
    EXPECT_EQ(x.sources[i].frequency_hz, y.sources[i].frequency_hz);
    EXPECT_EQ(x.sources[i].threads, y.sources[i].threads);
    EXPECT_EQ(x.sources[i].samples, y.sources[i].samples);
    EXPECT_EQ(x.sources[i].dropped, y.sources[i].dropped);
  }
  EXPECT_EQ(x.samples, y.samples);
  EXPECT_EQ(x.dropped, y.dropped);
  EXPECT_EQ(x.alloc_interval_bytes, y.alloc_interval_bytes);
  EXPECT_EQ(x.alloc_samples, y.alloc_samples);
  EXPECT_EQ(x.alloc_peak_live_bytes, y.alloc_peak_live_bytes);
  EXPECT_EQ(x.alloc_peak_at_ns, y.alloc_peak_at_ns);
  ASSERT_EQ(x.unavailable.size(), y.unavailable.size());
  for (std::size_t i = 0; i < x.unavailable.size(); ++i) {
    EXPECT_EQ(x.unavailable[i].what, y.unavailable[i].what);
    EXPECT_EQ(x.unavailable[i].reason, y.unavailable[i].reason);
  }
  const SampleProfile &p = a.profile, &q = b.profile;
  ASSERT_EQ(p.operations.size(), q.operations.size());
  for (std::size_t i = 0; i < p.operations.size(); ++i) {
    EXPECT_EQ(p.operations[i].id, q.operations[i].id);
    EXPECT_EQ(p.operations[i].name, q.operations[i].name);
    EXPECT_EQ(p.operations[i].category, q.operations[i].category);
  }
  EXPECT_EQ(p.frames, q.frames);
  ASSERT_EQ(p.stacks.size(), q.stacks.size());
  for (std::size_t i = 0; i < p.stacks.size(); ++i) {
    EXPECT_EQ(p.stacks[i].frames, q.stacks[i].frames);
    EXPECT_EQ(p.stacks[i].operations, q.stacks[i].operations);
    EXPECT_EQ(p.stacks[i].thread, q.stacks[i].thread);
    EXPECT_EQ(p.stacks[i].cpu_samples, q.stacks[i].cpu_samples);
    EXPECT_EQ(p.stacks[i].alloc_samples, q.stacks[i].alloc_samples);
    EXPECT_EQ(p.stacks[i].alloc_bytes, q.stacks[i].alloc_bytes);
    EXPECT_EQ(p.stacks[i].live_bytes, q.stacks[i].live_bytes);
    EXPECT_EQ(p.stacks[i].alloc_objects, q.stacks[i].alloc_objects);
    EXPECT_EQ(p.stacks[i].live_objects, q.stacks[i].live_objects);
  }
}

inline void expect_same_snapshot(const Snapshot& a, const Snapshot& b) {
  EXPECT_EQ(a.run.host, b.run.host);
  EXPECT_EQ(a.run.pid, b.run.pid);
  EXPECT_EQ(a.run.command, b.run.command);
  EXPECT_EQ(a.run.rank, b.run.rank);
  EXPECT_EQ(a.run.world_size, b.run.world_size);
  EXPECT_EQ(a.run.local_rank, b.run.local_rank);
  EXPECT_EQ(a.run.job_name, b.run.job_name);
  EXPECT_EQ(a.run.start_unix_ns, b.run.start_unix_ns);
  EXPECT_EQ(a.run.wall_ns, b.run.wall_ns);
  EXPECT_EQ(a.run.version, b.run.version);
  EXPECT_EQ(a.run.enabled, b.run.enabled);
  EXPECT_EQ(a.run.category_mask, b.run.category_mask);
  EXPECT_EQ(a.run.hardware_threads, b.run.hardware_threads);
  ASSERT_EQ(a.run.unavailable.size(), b.run.unavailable.size());
  for (std::size_t i = 0; i < a.run.unavailable.size(); ++i) {
    EXPECT_EQ(a.run.unavailable[i].what, b.run.unavailable[i].what);
    EXPECT_EQ(a.run.unavailable[i].reason, b.run.unavailable[i].reason);
  }
  ASSERT_EQ(a.run.gpus.size(), b.run.gpus.size());
  for (std::size_t i = 0; i < a.run.gpus.size(); ++i) {
    EXPECT_EQ(a.run.gpus[i].index, b.run.gpus[i].index);
    EXPECT_EQ(a.run.gpus[i].name, b.run.gpus[i].name);
    EXPECT_EQ(a.run.gpus[i].memory_total_bytes, b.run.gpus[i].memory_total_bytes);
  }
  for (const auto& [key, value] : a.run.metadata) EXPECT_EQ(b.run.metadata.at(key), value);

  ASSERT_EQ(a.operations.size(), b.operations.size());
  for (std::size_t i = 0; i < a.operations.size(); ++i) expect_same_operation(a.operations[i], b.operations[i]);

  ASSERT_EQ(a.call_tree.size(), b.call_tree.size());
  for (std::size_t i = 0; i < a.call_tree.size(); ++i) {
    EXPECT_EQ(a.call_tree[i].parent_id, b.call_tree[i].parent_id);
    EXPECT_EQ(a.call_tree[i].child_id, b.call_tree[i].child_id);
    EXPECT_EQ(a.call_tree[i].count, b.call_tree[i].count);
    EXPECT_EQ(a.call_tree[i].total_ns, b.call_tree[i].total_ns);
  }
  ASSERT_EQ(a.threads.size(), b.threads.size());
  for (std::size_t i = 0; i < a.threads.size(); ++i) {
    const auto &x = a.threads[i], &y = b.threads[i];
    EXPECT_EQ(x.index, y.index);
    EXPECT_EQ(x.os_tid, y.os_tid);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.events, y.events);
    EXPECT_EQ(x.dropped, y.dropped);
    EXPECT_EQ(x.top_level_ns, y.top_level_ns);
    ASSERT_EQ(x.operations.size(), y.operations.size());
    for (std::size_t k = 0; k < x.operations.size(); ++k) {
      EXPECT_EQ(x.operations[k].operation_id, y.operations[k].operation_id);
      EXPECT_EQ(x.operations[k].count, y.operations[k].count);
      EXPECT_EQ(x.operations[k].total_ns, y.operations[k].total_ns);
      EXPECT_EQ(x.operations[k].self_ns, y.operations[k].self_ns);
    }
  }
  ASSERT_EQ(a.timelines.size(), b.timelines.size());
  for (std::size_t i = 0; i < a.timelines.size(); ++i) {
    EXPECT_EQ(a.timelines[i].name, b.timelines[i].name);
    EXPECT_EQ(a.timelines[i].unit, b.timelines[i].unit);
    EXPECT_EQ(a.timelines[i].t_ns, b.timelines[i].t_ns);
    EXPECT_EQ(a.timelines[i].values, b.timelines[i].values);
  }
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    EXPECT_EQ(a.steps[i].index, b.steps[i].index);
    EXPECT_EQ(a.steps[i].start_ns, b.steps[i].start_ns);
    EXPECT_EQ(a.steps[i].end_ns, b.steps[i].end_ns);
  }
  ASSERT_EQ(a.devices.size(), b.devices.size());
  for (std::size_t i = 0; i < a.devices.size(); ++i) {
    const auto &x = a.devices[i], &y = b.devices[i];
    EXPECT_EQ(x.device, y.device);
    EXPECT_EQ(x.stream, y.stream);
    EXPECT_EQ(x.busy_ns, y.busy_ns);
    EXPECT_EQ(x.kernel_ns, y.kernel_ns);
    EXPECT_EQ(x.memcpy_ns, y.memcpy_ns);
    EXPECT_EQ(x.memset_ns, y.memset_ns);
    EXPECT_EQ(x.memcpy_bytes, y.memcpy_bytes);
    EXPECT_EQ(x.kernels, y.kernels);
    EXPECT_EQ(x.busy_in_steps_ns, y.busy_in_steps_ns);
  }
  EXPECT_EQ(a.sync_ns, b.sync_ns);
  EXPECT_EQ(a.events_recorded, b.events_recorded);
  EXPECT_EQ(a.events_dropped, b.events_dropped);
  EXPECT_EQ(a.events_recorded_total, b.events_recorded_total);
  EXPECT_EQ(a.events_dropped_total, b.events_dropped_total);
  EXPECT_EQ(a.trace_events_dropped, b.trace_events_dropped);
  EXPECT_EQ(a.trace_policy, b.trace_policy);
  EXPECT_EQ(a.trace_window_start_ns, b.trace_window_start_ns);
  EXPECT_EQ(a.trace_window_end_ns, b.trace_window_end_ns);
  expect_same_sampling(a, b);
  ASSERT_EQ(a.custom_metrics.size(), b.custom_metrics.size());
  for (std::size_t i = 0; i < a.custom_metrics.size(); ++i) {
    const CustomMetric& x = a.custom_metrics[i];
    const CustomMetric& y = b.custom_metrics[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.unit, y.unit);
    EXPECT_EQ(x.count, y.count);
    EXPECT_EQ(x.sum, y.sum);
    EXPECT_EQ(x.last, y.last);
    EXPECT_EQ(x.min, y.min);
    EXPECT_EQ(x.max, y.max);
    EXPECT_EQ(x.mean, y.mean);
    EXPECT_EQ(x.p99, y.p99);
    EXPECT_EQ(x.first_ns, y.first_ns);
    EXPECT_EQ(x.last_ns, y.last_ns);
    EXPECT_EQ(x.rejected, y.rejected);
    ASSERT_EQ(x.series.size(), y.series.size());
    for (std::size_t k = 0; k < x.series.size(); ++k) {
      EXPECT_EQ(x.series[k].start_ns, y.series[k].start_ns);
      EXPECT_EQ(x.series[k].width_ns, y.series[k].width_ns);
      EXPECT_EQ(x.series[k].count, y.series[k].count);
      EXPECT_EQ(x.series[k].sum, y.series[k].sum);
      EXPECT_EQ(x.series[k].last, y.series[k].last);
    }
  }
  ASSERT_EQ(a.alerts.size(), b.alerts.size());
  for (std::size_t i = 0; i < a.alerts.size(); ++i) {
    EXPECT_EQ(a.alerts[i].name, b.alerts[i].name);
    EXPECT_EQ(a.alerts[i].state, b.alerts[i].state);
    EXPECT_EQ(a.alerts[i].labels, b.alerts[i].labels);
    EXPECT_EQ(a.alerts[i].summary, b.alerts[i].summary);
    EXPECT_EQ(a.alerts[i].value, b.alerts[i].value);
    EXPECT_EQ(a.alerts[i].fired_unix_ns, b.alerts[i].fired_unix_ns);
  }
}

inline void expect_same_findings(const Findings& a, const Findings& b) {
  ASSERT_EQ(a.bottlenecks.size(), b.bottlenecks.size());
  for (std::size_t i = 0; i < a.bottlenecks.size(); ++i) {
    const auto &x = a.bottlenecks[i], &y = b.bottlenecks[i];
    EXPECT_EQ(x.operation, y.operation);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.avg_duration, y.avg_duration);
    EXPECT_EQ(x.p95_duration, y.p95_duration);
    EXPECT_EQ(x.calls, y.calls);
    EXPECT_EQ(x.total_time, y.total_time);
    EXPECT_EQ(x.self_time, y.self_time);
    EXPECT_EQ(x.share_of_wall, y.share_of_wall);
    EXPECT_EQ(x.severity, y.severity);
    EXPECT_EQ(x.optimization_priority, y.optimization_priority);
    EXPECT_EQ(x.reason, y.reason);
  }
  const auto &c = a.classification, &d = b.classification;
  EXPECT_EQ(c.summary, d.summary);
  EXPECT_EQ(c.input.level, d.input.level);
  EXPECT_EQ(c.input.input_share, d.input.input_share);
  EXPECT_EQ(c.input.steps, d.input.steps);
  EXPECT_EQ(c.input.step_time, d.input.step_time);
  EXPECT_EQ(c.input.step_source, d.input.step_source);
  EXPECT_EQ(c.gpu.available, d.gpu.available);
  EXPECT_EQ(c.gpu.idle_share, d.gpu.idle_share);
  EXPECT_EQ(c.gpu.mean_utilization, d.gpu.mean_utilization);
  EXPECT_EQ(c.gpu.peak_memory_fraction, d.gpu.peak_memory_fraction);
  EXPECT_EQ(c.gpu.source, d.gpu.source);
  EXPECT_EQ(c.cpu.mean_efficiency, d.cpu.mean_efficiency);
  EXPECT_EQ(c.cpu.involuntary_switches_per_s, d.cpu.involuntary_switches_per_s);
  EXPECT_EQ(c.cpu.contention_suspected, d.cpu.contention_suspected);
  EXPECT_EQ(c.cpu.waiting_operations, d.cpu.waiting_operations);
  EXPECT_EQ(a.step_timing.steps, b.step_timing.steps);
  EXPECT_EQ(a.step_timing.step_time, b.step_timing.step_time);
  EXPECT_EQ(a.step_timing.input_time, b.step_timing.input_time);
  EXPECT_EQ(a.step_timing.iteration_time, b.step_timing.iteration_time);
  EXPECT_EQ(a.step_timing.collective_time, b.step_timing.collective_time);
  ASSERT_EQ(a.trends.size(), b.trends.size());
  for (std::size_t i = 0; i < a.trends.size(); ++i) {
    EXPECT_EQ(a.trends[i].kind, b.trends[i].kind);
    EXPECT_EQ(a.trends[i].operation, b.trends[i].operation);
    EXPECT_EQ(a.trends[i].description, b.trends[i].description);
    EXPECT_EQ(a.trends[i].magnitude, b.trends[i].magnitude);
    EXPECT_EQ(a.trends[i].at_s, b.trends[i].at_s);
    EXPECT_EQ(a.trends[i].method, b.trends[i].method);
  }
  ASSERT_EQ(a.recommendations.size(), b.recommendations.size());
  for (std::size_t i = 0; i < a.recommendations.size(); ++i) {
    const auto &x = a.recommendations[i], &y = b.recommendations[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.priority, y.priority);
    EXPECT_EQ(x.title, y.title);
    EXPECT_EQ(x.evidence_text, y.evidence_text);
    EXPECT_EQ(x.action, y.action);
    ASSERT_EQ(x.evidence.size(), y.evidence.size());
    for (std::size_t k = 0; k < x.evidence.size(); ++k) {
      EXPECT_EQ(x.evidence[k].metric, y.evidence[k].metric);
      EXPECT_EQ(x.evidence[k].value, y.evidence[k].value);
      EXPECT_EQ(x.evidence[k].unit, y.evidence[k].unit);
      EXPECT_EQ(x.evidence[k].operation, y.evidence[k].operation);
    }
  }
}

}  // namespace codeprof::test
