#pragma once
// A hand-made Snapshot and Findings that exercise every field the writers handle, with awkward
// names (quotes, commas, newlines, HTML, invalid UTF-8) and values that are exact in seconds.
#include <cstdint>

#include "codeprof/findings.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::test {

inline OperationStats make_operation(std::uint32_t id, std::string name, Category category, std::uint64_t count,
                                     std::uint64_t mean_ns) {
  OperationStats op;
  op.id = id;
  op.name = std::move(name);
  op.category = category;
  op.file = "pipeline.cpp";
  op.line = 40 + id;
  op.count = count;
  op.total_ns = count * mean_ns;
  op.self_ns = op.total_ns - op.total_ns / 4;
  op.min_ns = mean_ns / 2;
  op.max_ns = mean_ns * 3;
  op.mean_ns = static_cast<double>(mean_ns);
  op.stddev_ns = static_cast<double>(mean_ns) / 7.0;
  op.p50_ns = mean_ns - 10;
  op.p90_ns = mean_ns + 1000;
  op.p95_ns = mean_ns * 2;
  op.p99_ns = mean_ns * 2 + 12345;
  op.first_seen_ns = 1'000 + id;
  op.last_seen_ns = 9'000'000'000 + 7 * id;
  // Three histogram buckets around the mean that hold all calls.
  const std::uint64_t third = count / 3;
  op.histogram = {{mean_ns / 2, mean_ns / 2 + mean_ns / 64, third},
                  {mean_ns, mean_ns + mean_ns / 64, count - 2 * third},
                  {mean_ns * 3, mean_ns * 3 + mean_ns / 32, third}};
  op.series = {{0, 1'000'000'000, count / 2, (count / 2) * mean_ns, mean_ns / 2, mean_ns * 2},
               {1'000'000'000, 1'000'000'000, count - count / 2, (count - count / 2) * mean_ns, mean_ns / 2, mean_ns * 3}};
  op.slowest = {{5'000'000 + id, mean_ns * 3, 0}, {7'000'000 + id, mean_ns * 2, 1}};
  return op;
}

// A profile with native and Python frames, inlined frames, a stack outside every operation, an
// operation still open (in the profile only) and allocation counts.
inline void add_sampling(Snapshot& s) {
  SamplingInfo& info = s.sampling;
  info.enabled = true;
  info.unwinder = "libunwind";
  info.sources = {{"perf_event", 999.0, 2, 1200, 3}, {"python", 100.0, 1, 40, 0}};
  info.samples = 1240;
  info.dropped = 3;
  info.alloc_interval_bytes = 524'288;
  info.alloc_samples = 17;
  info.alloc_peak_live_bytes = 9'437'184;
  info.alloc_peak_at_ns = 2'500'000'001;
  info.sampler_cpu_ns = 412'000'003;
  info.unavailable = {{"sampling_symbols", "/usr/lib/libfoo.so.1 has no debug information: lines unknown"}};
  SampleProfile& p = s.profile;
  p.operations = {{0, "train_step", Category::TrainingLoop}, {2, "tokenize, \"fast\"\nv2", Category::Preprocessing},
                  {9, "still_open", Category::Custom}};
  p.frames = {{"count_tokens(std::string_view)", "/src/tok.cpp", 88, "/app/train", true},
              {"tokenize(std::vector<std::string> const&)", "/src/tok.cpp", 120, "/app/train", false},
              {"main", "/src/main.cpp", 12, "/app/train", false},
              {"[libfoo.so.1+0x1f30]", "", 0, "/usr/lib/libfoo.so.1", false},
              {"encode", "/app/tok.py", 31, "python", false}};
  p.stacks = {{{0, 1, 2}, {2, 0}, 4250, 900, 0, 0, 0},
              {{1, 2}, {2, 0}, 4250, 300, 12, 6'291'456, 2'097'152, 96, 32},
              {{3, 2}, {}, 4242, 0, 5, 2'621'440, 0, 40, 0},
              {{4}, {9}, 4251, 40, 0, 0, 0}};
  OperationStats& tok = s.operations[2];
  tok.cpu_samples = 1200;
  tok.hot_functions = {{"count_tokens(std::string_view)", "/src/tok.cpp", 88, 900, 0.75},
                       {"tokenize(std::vector<std::string> const&)", "/src/tok.cpp", 120, 300, 0.25}};
  tok.hot_lines = tok.hot_functions;
  tok.alloc_samples = 12;
  tok.alloc_sampled_bytes = 6'291'456;
  tok.live_sampled_bytes = 2'097'152;
  tok.peak_live_sampled_bytes = 4'194'304;
  tok.hot_allocations = {{"tokenize(std::vector<std::string> const&)", "/src/tok.cpp", 120, 12, 6'291'456, 1.0}};
  tok.live_at_end = {{"tokenize(std::vector<std::string> const&)", "/src/tok.cpp", 120, 12, 2'097'152, 1.0}};
}

inline Snapshot sample_snapshot() {
  Snapshot s;
  RunInfo& run = s.run;
  run.source = "live";
  run.host = "worker-7";
  run.pid = 4242;
  run.command = "train.py --epochs 3";
  run.rank = 1;
  run.world_size = 4;
  run.local_rank = 1;
  run.job_name = "nightly-bert";
  run.start_unix_ns = 1'764'000'000'123'456'789;
  run.wall_ns = 12'345'678'901;
  run.version = "0.1.0";
  run.enabled = true;
  run.category_mask = kAllCategoriesMask & ~category_bit(Category::EarlyStopping);
  run.hardware_threads = 16;
  run.unavailable = {{"gpu_memory", "no NVIDIA driver: libnvidia-ml.so.1 not found"}, {"nvtx", "no tool attached"}};
  run.gpus = {{0, "NVIDIA H100 80GB HBM3", 85'520'809'984}};
  run.metadata = {{"experiment", "baseline"}, {"git", "abc123"}};

  s.operations.push_back(make_operation(0, "train_step", Category::TrainingLoop, 300, 40'000'000));
  s.operations.push_back(make_operation(1, "load_batch", Category::DataLoading, 300, 25'000'000));
  s.operations.push_back(make_operation(2, "tokenize, \"fast\"\nv2", Category::Preprocessing, 900, 1'500'000));
  s.operations.push_back(make_operation(3, "<script>alert(1)</script> & co", Category::Custom, 10, 2'000));
  s.operations.push_back(make_operation(4, std::string("bad\xff\xfeutf8"), Category::Io, 3, 900));
  s.operations.push_back(make_operation(5, "forward", Category::ModelInference, 300, 9'000'000));
  auto& load = s.operations[1];
  load.resources[index_of(ProbeMetric::CpuTimeNs)] = {300, 3'000'000'000, 20'000'000, 5'000'000};
  load.resources[index_of(ProbeMetric::AllocBytes)] = {300, 9'000'000'000, 31'000'000, 29'000'000};
  load.resources[index_of(ProbeMetric::RssDeltaBytes)] = {300, -4096, 1'048'576, -2'097'152};
  load.resources[index_of(ProbeMetric::IoReadBytes)] = {300, 600'000'000, 2'000'000, 2'000'000};
  load.resources[index_of(ProbeMetric::NetRecvBytes)] = {300, 1'200'000'000, 4'000'000, 4'000'000};
  load.resources[index_of(ProbeMetric::NetBlockedNs)] = {300, 2'000'000'000, 9'000'000, 5'000'000};
  s.operations[5].resources[index_of(ProbeMetric::GpuTimeNs)] = {300, 2'400'000'000, 9'000'000, 7'000'000};

  s.call_tree = {{kRootOperation, 0, 300, 12'000'000'000}, {0, 1, 300, 7'500'000'000}, {0, 5, 300, 2'700'000'000},
                 {1, 2, 900, 1'350'000'000}};
  ThreadStats main_thread;
  main_thread.index = 0;
  main_thread.os_tid = 4242;
  main_thread.name = "main";
  main_thread.events = 1500;
  main_thread.top_level_ns = 12'000'000'000;
  main_thread.operations = {{0, 300, 12'000'000'000, 3'000'000'000}, {5, 300, 2'700'000'000, 2'700'000'000}};
  ThreadStats loader;
  loader.index = 1;
  loader.os_tid = 4250;
  loader.name = "loader \"0\"";
  loader.events = 1213;
  loader.dropped = 7;
  loader.top_level_ns = 7'000'000'000;
  loader.operations = {{1, 300, 7'500'000'000, 6'150'000'000}, {2, 900, 1'350'000'000, 1'350'000'000}};
  s.threads = {main_thread, loader};

  s.timelines = {{"process_cpu_percent", "percent", {100'000'000, 200'000'000, 300'000'000, 400'000'000},
                  {55.5, 98.25, 101.0, 87.75}},
                 {"rss_bytes", "bytes", {100'000'000, 200'000'000, 300'000'000, 400'000'000},
                  {1.5e9, 1.75e9, 2.0e9, 2.25e9}}};
  s.steps = {{0, 10'000'000, 50'000'000}, {1, 50'000'000, 91'000'000}, {2, 91'000'000, 130'500'000}};
  s.devices = {{0, -1, 9'000'000'000, 8'000'000'000, 700'000'000, 300'000'000, 123'456'789, 4567, 8'500'000'000},
               {0, 7, 8'000'000'000, 8'000'000'000, 0, 0, 0, 4000, 7'900'000'000}};
  s.sync_ns = 250'000'000;
  s.events_recorded = 2713;
  s.events_dropped = 7;
  s.events_recorded_total = 5000;
  s.events_dropped_total = 9;
  s.trace_events_dropped = 11;
  s.trace_policy = "last";
  s.trace_window_start_ns = 1'250'000'000;
  s.trace_window_end_ns = 2'500'000'000;
  add_sampling(s);
  Alert alert;
  alert.name = "InputBound";
  alert.state = "firing";
  alert.severity = "warning";
  alert.summary = "input-bound: input takes 45.0 % of each iteration (threshold 20.0 %)";
  alert.labels = {{"job_name", "nightly-bert"}, {"rank", "1"}, {"host", "worker-7"}};
  alert.value = 0.45;
  alert.threshold = 0.2;
  alert.source = "TensorFlow's input-pipeline analyzer";
  alert.active_since_unix_ns = 1795000000000000000;
  alert.fired_unix_ns = 1795000300000000000;
  s.alerts.push_back(alert);
  CustomMetric pages;
  pages.name = "pages_scored";
  pages.kind = MetricKind::Counter;
  pages.unit = "pages";
  pages.count = 40;
  pages.sum = pages.last = 1280;
  pages.min = 16;
  pages.max = 64;
  pages.mean = 32;
  pages.first_ns = 1'000'000;
  pages.last_ns = 7'900'000'000;
  pages.series = {{0, 4'000'000'000, 30, 960, 16, 64, 960}, {4'000'000'000, 4'000'000'000, 10, 320, 32, 32, 1280}};
  s.custom_metrics.push_back(pages);
  CustomMetric loss;
  loss.name = "loss";
  loss.kind = MetricKind::Value;
  loss.count = 2;
  loss.sum = 3.0;
  loss.last = 1.0;
  loss.min = 1.0;
  loss.max = 2.0;
  loss.mean = 1.5;
  loss.p50 = 1.0;
  loss.p90 = loss.p95 = loss.p99 = 2.0;
  loss.rejected = 1;
  loss.series = {{0, 4'000'000'000, 2, 3.0, 1.0, 2.0, 1.0}};
  s.custom_metrics.push_back(loss);
  return s;
}

inline Findings sample_findings() {
  Findings f;
  f.step_timing = {300, 9.0, 3.2, 10.5, 1.25};
  Bottleneck b;
  b.operation = "load_batch";
  b.type = Category::DataLoading;
  b.avg_duration = 0.025;
  b.p95_duration = 0.05;
  b.calls = 300;
  b.total_time = 7.5;
  b.self_time = 5.625;
  b.share_of_wall = 0.4556;
  b.severity = Severity::Share;
  b.optimization_priority = Priority::High;
  b.reason = "load_batch takes 45.6% of wall time (5.63 s of 12.3 s)";
  f.bottlenecks.push_back(b);
  Bottleneck c = b;
  c.operation = "<script>alert(1)</script> & co";
  c.type = Category::Custom;
  c.severity = Severity::Warning;
  c.optimization_priority = Priority::Low;
  c.reason = "a \"quoted\" reason";
  f.bottlenecks.push_back(c);

  f.classification.summary = "Highly input-bound: 62.5% of step time is data loading and preprocessing.";
  f.classification.input = {InputBound::Highly, 0.625, 300, 12.0, "training_loop category"};
  f.classification.gpu = {true, 0.375, 61.5, 0.8125, GpuSource::Trace};
  f.classification.cpu.mean_efficiency = 0.4375;
  f.classification.cpu.involuntary_switches_per_s = 120.5;
  f.classification.cpu.contention_suspected = true;
  f.classification.cpu.waiting_operations = {"load_batch"};

  f.trends = {{TrendKind::Slowdown, "load_batch", "load_batch got 1.8x slower", 1.8, 6.5, "median of first vs last quarter of windows"},
              {TrendKind::MemoryGrowth, "", "RSS grows 2.5 MB per step", 2'500'000.0, 0.0, "least squares over steps"}};

  Recommendation r;
  r.id = "input-bound-workers";
  r.type = recommendation_type(Category::DataLoading);
  r.priority = Priority::High;
  r.title = "Load data in parallel";
  r.evidence = {{"input_share", 0.625, EvidenceUnit::Ratio, "", ""}, {"mean_duration_s", 0.025, EvidenceUnit::Seconds, "load_batch", ""}};
  r.evidence_text = "input is 62.5% of step time; load_batch averages 25.0 ms";
  r.action = "Raise DataLoader num_workers to 8 and enable pin_memory.";
  f.recommendations.push_back(r);
  Recommendation low = r;
  low.id = "cpu-contention";
  low.type = RecommendationType::System;
  low.priority = Priority::Low;
  low.title = "Reduce thread oversubscription";
  low.evidence = {};
  f.recommendations.push_back(low);
  return f;
}

}  // namespace codeprof::test
