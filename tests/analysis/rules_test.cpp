// Table tests of the rule catalogue: each rule on a hand-made Snapshot where its evidence is
// present (it fires, with the expected priority and numbers in its action) and on one where it is
// absent or explained otherwise (it stays silent).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "analysis/analyze.hpp"
#include "analysis/find_recommendation.hpp"
#include "analysis/rules.hpp"
#include "analysis/snapshot_builder.hpp"

namespace codeprof {
namespace {

using testing::ns;
using testing::SnapshotBuilder;
using testing::MiB;
constexpr double GiB = 1024.0 * MiB;

using testing::find_recommendation;

double evidence(const Recommendation& r, const std::string& metric) {
  for (const auto& e : r.evidence)
    if (e.metric == metric) return e.value;
  ADD_FAILURE() << r.id << " has no evidence " << metric << ": " << r.evidence_text;
  return NAN;
}

// 100 steps; each loads for load_s on the step thread, then computes for compute_s.
SnapshotBuilder training(double load_s, double compute_s, int hw = 8) {
  SnapshotBuilder b(100 * (load_s + compute_s), hw);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, load_s + compute_s);
  b.top(step);
  const auto load = b.op("load_batch", Category::DataLoading, 100, load_s);
  b.child(step, load);
  const auto compute = b.op("forward", Category::Custom, 100, compute_s);
  b.child(step, compute);
  return b;
}

// Steps as above, but the loading runs on `workers` other threads; the step waits `wait_s`.
SnapshotBuilder training_with_workers(double wait_s, double compute_s, double load_s, int workers, int hw = 8) {
  SnapshotBuilder b(100 * (wait_s + compute_s), hw);
  const auto step = b.op("train_step", Category::TrainingLoop, 100, wait_s + compute_s);
  b.top(step);
  const auto wait = b.op("wait_for_batch", Category::DataLoading, 100, wait_s);
  b.child(step, wait);
  const auto compute = b.op("forward", Category::Custom, 100, compute_s);
  b.child(step, compute);
  const auto load = b.op("load_batch", Category::DataLoading, 100, load_s);
  b.top(load);
  std::vector<std::uint32_t> threads;
  for (int i = 1; i <= workers; ++i) threads.push_back(static_cast<std::uint32_t>(i));
  b.on_threads(load, threads);
  return b;
}

SnapshotBuilder one_op(const std::string& name, Category c, std::uint64_t count, double mean_s, double wall_s = 10.0) {
  SnapshotBuilder b(wall_s);
  b.top(b.op(name, c, count, mean_s));
  return b;
}

using testing::repeat;

std::vector<double> concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct RuleCase {
  std::string name;
  std::string rule;
  bool fires;
  std::string priority;         // checked when it fires
  std::string action_contains;  // checked when it fires
  std::function<Snapshot()> make;
  std::function<void(Config&)> configure = [](Config&) {};
};

std::ostream& operator<<(std::ostream& os, const RuleCase& c) { return os << c.name; }

std::vector<RuleCase> cases() {
  std::vector<RuleCase> v;
  // ---- data loading
  v.push_back({"workers_sleeping_loader", "input-bound-workers", true, "high", "3 parallel workers (now 0", [] {
                 auto b = training(0.05, 0.02);
                 b.cpu_efficiency(1, 0.05);
                 return b.build();
               }});
  v.push_back({"workers_capped_by_cores", "input-bound-workers", true, "high", "2 parallel workers", [] {
                 auto b = training(0.05, 0.02, 2);
                 b.cpu_efficiency(1, 1.0);
                 return b.build();
               }});
  v.push_back({"workers_moderate", "input-bound-workers", true, "medium", "", [] { return training(0.01, 0.09).build(); }});
  v.push_back({"workers_not_input_bound", "input-bound-workers", false, "", "", [] { return training(0.001, 0.1).build(); }});
  v.push_back({"workers_limited_by_cores", "input-bound-workers", false, "", "", [] {
                 // Two CPU-bound workers on two cores: a third would not load faster.
                 auto b = training_with_workers(0.03, 0.07, 0.14, 2, 2);
                 b.cpu_efficiency(3, 1.0);
                 return b.build();
               }});
  v.push_back({"prefetch_synchronous_loader", "input-prefetch", true, "high", "keep 2 batches ready",
               [] { return training(0.05, 0.02).build(); }});
  v.push_back({"prefetch_loader_on_workers", "input-prefetch", false, "", "",
               [] { return training_with_workers(0.03, 0.07, 0.05, 4).build(); }});
  auto reread = [](std::uint64_t reads, double last_read_s) {
    SnapshotBuilder b(12.0);
    const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.1);
    b.top(step);
    b.seen(step, 1.0, 11.0);
    const auto read = b.op("read_corpus", Category::DataLoading, reads, 0.2);
    b.top(read);
    b.seen(read, 0.5, last_read_s);
    std::vector<double> means = repeat(0.2, reads);
    b.windows(read, means, 2.5);
    b.resource(read, ProbeMetric::IoReadBytes, static_cast<std::int64_t>(10 * MiB) * static_cast<std::int64_t>(reads));
    return b;
  };
  v.push_back({"cache_rereads_each_pass", "data-loading-cache", true, "medium", "40.0 MiB",
               [=] { return reread(4, 9.2).build(); }});
  v.push_back({"cache_reads_once", "data-loading-cache", false, "", "", [=] { return reread(1, 0.7).build(); }});
  auto io_timeline = [](bool keeps_reading) {
    SnapshotBuilder b(12.0);
    const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.1);
    b.top(step);
    b.seen(step, 1.0, 11.0);
    const auto load = b.op("load_batch", Category::DataLoading, 100, 0.02);
    b.child(step, load);
    b.seen(load, 1.0, 11.0);
    std::vector<double> rate;
    for (int i = 0; i < 24; ++i) rate.push_back(keeps_reading || i < 6 ? 50 * MiB : 0.0);
    b.timeline("io_read_bytes_per_s", "bytes_per_second", 0.5, rate);
    return b;
  };
  v.push_back({"cache_from_io_timeline", "data-loading-cache", true, "medium", "io_read_bytes_per_s timeline",
               [=] { return io_timeline(true).build(); }});
  v.push_back({"cache_io_stops_after_first_pass", "data-loading-cache", false, "", "",
               [=] { return io_timeline(false).build(); }});
  // DataLoader worker processes: the loop's loading operation reads the batches from their pipes.
  auto from_workers = [](Snapshot s) {
    s.run.metadata["loader_worker_processes"] = "2";
    return s;
  };
  v.push_back({"cache_pipe_reads_from_worker_processes", "data-loading-cache", false, "", "",
               [=] { return from_workers(reread(4, 9.2).build()); }});
  v.push_back({"cache_timeline_with_worker_processes", "data-loading-cache", false, "", "",
               [=] { return from_workers(io_timeline(true).build()); }});
  // Steps whose optimizer update (cost independent of the batch) takes `optimizer_share` of them.
  auto optimizer_steps = [](std::uint64_t steps, double step_s, double optimizer_share) {
    SnapshotBuilder b(static_cast<double>(steps) * step_s);
    const auto step = b.op("train_step", Category::TrainingLoop, steps, step_s);
    b.top(step);
    const auto forward = b.op("forward_backward", Category::TrainingLoop, steps, step_s * (1.0 - optimizer_share));
    b.child(step, forward);
    const auto optimizer = b.op("optimizer_step", Category::GradientAccumulation, steps, step_s * optimizer_share);
    b.child(step, optimizer);
    b.snapshot().run.metadata["batch_size"] = "1";
    return b;
  };
  v.push_back({"batch_optimizer_dominated", "batch-size-small", true, "medium", "about 16x (from 1 to about 16)",
               [=] { return optimizer_steps(1000, 0.0005, 0.30).build(); }});
  // The same share with long steps: no absolute step time is involved.
  v.push_back({"batch_optimizer_dominated_long_steps", "batch-size-small", true, "medium", "30.0 % of the step time",
               [=] { return optimizer_steps(200, 0.2, 0.30).build(); }});
  v.push_back({"batch_optimizer_small_share", "batch-size-small", false, "", "",
               [=] { return optimizer_steps(1000, 0.0005, 0.06).build(); }});
  v.push_back({"batch_few_steps", "batch-size-small", false, "", "",
               [=] { return optimizer_steps(50, 0.0005, 0.5).build(); }});
  v.push_back({"batch_no_optimizer_seen", "batch-size-small", false, "", "", [] {
                 SnapshotBuilder b(0.5);
                 b.top(b.op("train_step", Category::TrainingLoop, 1000, 0.0005));
                 return b.build();
               }});
  // ---- preprocessing
  v.push_back({"vectorize_slow_tokenizer", "preprocessing-vectorize", true, "high", "5.00 s (50.0 % of the run)",
               [] { return one_op("tokenize", Category::Preprocessing, 1000, 0.005).build(); }});
  v.push_back({"vectorize_medium_share", "preprocessing-vectorize", true, "medium", "", [] {
                 return one_op("tokenize", Category::Preprocessing, 300, 0.005).build();
               }});
  v.push_back({"vectorize_off_the_critical_path", "preprocessing-vectorize", true, "medium", "", [] {
                 // Tokenising on two loader workers while the steps never wait: faster tokenising
                 // would not shorten the run.
                 SnapshotBuilder b(10.0);
                 b.top(b.op("train_step", Category::TrainingLoop, 100, 0.1));
                 const auto tok = b.op("tokenize", Category::Preprocessing, 1000, 0.008);
                 b.top(tok);
                 b.on_threads(tok, {1, 2});
                 return b.build();
               }});
  v.push_back({"workers_on_workers_but_too_few", "input-bound-workers", true, "high", "4 parallel workers (now 1", [] {
                 // One worker needs 70 ms per batch, the step computes for 20 ms and waits 50 ms.
                 auto b = training_with_workers(0.05, 0.02, 0.07, 1);
                 b.cpu_efficiency(3, 0.2);
                 return b.build();
               }});
  v.push_back({"vectorize_waiting_not_computing", "preprocessing-vectorize", false, "", "", [] {
                 auto b = one_op("tokenize", Category::Preprocessing, 1000, 0.005);
                 b.cpu_efficiency(0, 0.01);
                 return b.build();
               }});
  v.push_back({"vectorize_small_share", "preprocessing-vectorize", false, "", "",
               [] { return one_op("tokenize", Category::Preprocessing, 100, 0.005).build(); }});
  v.push_back({"parallelize_one_thread", "preprocessing-parallelize", true, "medium", "7 more threads",
               [] { return one_op("tokenize", Category::Preprocessing, 1000, 0.005).build(); }});
  v.push_back({"parallelize_single_core", "preprocessing-parallelize", false, "", "", [] {
                 SnapshotBuilder b(10.0, 1);
                 b.top(b.op("tokenize", Category::Preprocessing, 1000, 0.005));
                 return b.build();
               }});
  v.push_back({"parallelize_already_parallel", "preprocessing-parallelize", false, "", "", [] {
                 auto b = one_op("tokenize", Category::Preprocessing, 1000, 0.005);
                 b.on_threads(0, {0, 1});
                 return b.build();
               }});
  v.push_back({"memory_reuse_many_allocations", "preprocessing-memory-reuse", true, "medium", "500 allocations", [] {
                 auto b = one_op("tokenize", Category::Preprocessing, 1000, 0.005);
                 b.allocations(0, 64 * 1024, 64 * 1024, 500);
                 return b.build();
               }});
  v.push_back({"memory_reuse_no_probe", "preprocessing-memory-reuse", false, "", "",
               [] { return one_op("tokenize", Category::Preprocessing, 1000, 0.005).build(); }});
  v.push_back({"streamline_three_tiny_stages", "pipeline-streamline", true, "low", "strip, lower, split", [] {
                 SnapshotBuilder b(10.0);
                 for (const char* n : {"strip", "lower", "split"}) b.top(b.op(n, Category::Preprocessing, 20000, 50e-6));
                 return b.build();
               }});
  v.push_back({"streamline_two_stages", "pipeline-streamline", false, "", "", [] {
                 SnapshotBuilder b(10.0);
                 for (const char* n : {"strip", "lower"}) b.top(b.op(n, Category::Preprocessing, 20000, 50e-6));
                 return b.build();
               }});
  // ---- model inference
  v.push_back({"quantize_cpu_inference", "inference-quantize", true, "medium", "int8",
               [] { return one_op("infer", Category::ModelInference, 100, 0.05).build(); }});
  v.push_back({"quantize_gpu_inference", "inference-quantize", false, "", "", [] {
                 auto b = one_op("infer", Category::ModelInference, 100, 0.05);
                 b.timeline("gpu0_utilization_percent", "percent", 0.5, repeat(80, 20));
                 return b.build();
               }});
  v.push_back({"prune_slow_model", "inference-prune", true, "medium", "over the 2.00 s warning",
               [] { return one_op("infer", Category::ModelInference, 5, 3.0, 20.0).build(); }});
  v.push_back({"prune_fast_model", "inference-prune", false, "", "",
               [] { return one_op("infer", Category::ModelInference, 5, 1.0).build(); }});
  v.push_back({"compile_many_calls", "inference-compile", true, "low", "1000 calls",
               [] { return one_op("infer", Category::ModelInference, 1000, 0.005).build(); }});
  v.push_back({"compile_few_calls", "inference-compile", false, "", "",
               [] { return one_op("infer", Category::ModelInference, 50, 0.1).build(); }});
  v.push_back({"batching_many_small_calls", "inference-batching", true, "medium", "1000 calls of 5.0 ms",
               [] { return one_op("infer", Category::ModelInference, 1000, 0.005).build(); }});
  v.push_back({"batching_forward_passes_of_training", "inference-batching", false, "", "", [] {
                 // The same calls inside training steps are forward passes, not inference requests.
                 SnapshotBuilder b(10.0);
                 const auto step = b.op("train_step", Category::TrainingLoop, 1000, 0.009);
                 b.top(step);
                 b.child(step, b.op("infer", Category::ModelInference, 1000, 0.005));
                 return b.build();
               }});
  v.push_back({"batching_large_calls", "inference-batching", false, "", "",
               [] { return one_op("infer", Category::ModelInference, 100, 0.05).build(); }});
  v.push_back({"inference_mp_on_gpu", "inference-mixed-precision", true, "low", "", [] {
                 auto b = one_op("infer", Category::ModelInference, 100, 0.05);
                 b.timeline("gpu0_utilization_percent", "percent", 0.5, repeat(80, 20));
                 return b.build();
               }});
  v.push_back({"inference_mp_already", "inference-mixed-precision", false, "", "", [] {
                 auto b = one_op("infer", Category::ModelInference, 100, 0.05);
                 b.top(b.op("autocast", Category::MixedPrecision, 1, 0.001));
                 b.timeline("gpu0_utilization_percent", "percent", 0.5, repeat(80, 20));
                 return b.build();
               }});
  v.push_back({"inference_memory_growth", "inference-memory", true, "medium", "512.0 MiB", [] {
                 auto b = one_op("infer", Category::ModelInference, 100, 0.05);
                 b.resource(0, ProbeMetric::GpuMemDeltaBytes, static_cast<std::int64_t>(512 * MiB * 100));
                 return b.build();
               }});
  v.push_back({"inference_memory_small", "inference-memory", false, "", "", [] {
                 auto b = one_op("infer", Category::ModelInference, 100, 0.05);
                 b.resource(0, ProbeMetric::GpuMemDeltaBytes, static_cast<std::int64_t>(10 * MiB * 100));
                 return b.build();
               }});
  // ---- training loop
  auto gpu_memory = [](double used) {
    auto b = training(0.0, 0.1);
    b.gpu(0, static_cast<std::uint64_t>(16 * GiB));
    b.timeline("gpu0_memory_used_bytes", "bytes", 0.5, concat(repeat(4 * GiB, 5), repeat(used, 15)));
    return b.build();
  };
  v.push_back({"grad_accum_memory_full", "gradient-accumulation", true, "medium", "96.9 %", [=] { return gpu_memory(15.5 * GiB); }});
  v.push_back({"grad_accum_memory_ok", "gradient-accumulation", false, "", "", [=] { return gpu_memory(8 * GiB); }});
  auto gpu_util = [](std::vector<double> util, bool amp) {
    auto b = training(0.0, 0.1);
    if (amp) b.top(b.op("autocast", Category::MixedPrecision, 100, 0.001));
    b.timeline("gpu0_utilization_percent", "percent", 0.5, util);
    return b.build();
  };
  v.push_back({"mixed_precision_busy_gpu", "mixed-precision", true, "medium", "85 % mean",
               [=] { return gpu_util(repeat(85, 20), false); }});
  v.push_back({"mixed_precision_already", "mixed-precision", false, "", "", [=] { return gpu_util(repeat(85, 20), true); }});
  auto two_gpus = [](double u0, double u1) {
    auto b = training(0.0, 0.1);
    b.timeline("gpu0_utilization_percent", "percent", 0.5, repeat(u0, 20));
    b.timeline("gpu1_utilization_percent", "percent", 0.5, repeat(u1, 20));
    return b;
  };
  v.push_back({"ddp_unbalanced_gpus", "ddp-over-dataparallel", true, "medium", "--nproc_per_node=2",
               [=] { return two_gpus(90, 20).build(); }});
  v.push_back({"ddp_balanced_gpus", "ddp-over-dataparallel", false, "", "", [=] { return two_gpus(85, 80).build(); }});
  v.push_back({"ddp_already_distributed", "ddp-over-dataparallel", false, "", "", [=] {
                 auto b = two_gpus(90, 20);
                 b.snapshot().run.world_size = 2;
                 return b.build();
               }});
  auto with_op = [](Category c, std::uint64_t n, double mean) {
    auto b = training(0.0, 0.1);
    b.top(b.op("extra", c, n, mean));
    b.snapshot().run.wall_ns += ns(static_cast<double>(n) * mean);
    return b.build();
  };
  v.push_back({"lr_scheduler_costly", "lr-scheduling", true, "low", "9.1 % of training",
               [=] { return with_op(Category::LrScheduling, 100, 0.01); }});
  v.push_back({"lr_scheduler_cheap", "lr-scheduling", false, "", "", [=] { return with_op(Category::LrScheduling, 100, 0.0001); }});
  v.push_back({"early_stopping_costly", "early-stopping", true, "medium", "33.3 % of training",
               [=] { return with_op(Category::EarlyStopping, 10, 0.5); }});
  v.push_back({"early_stopping_cheap", "early-stopping", false, "", "", [=] { return with_op(Category::EarlyStopping, 10, 0.001); }});
  // ---- system
  v.push_back({"gpu_idle_half", "gpu-idle", true, "high", "idle 50.0 %",
               [=] { return gpu_util(concat(repeat(0, 10), repeat(90, 10)), false); }});
  v.push_back({"gpu_idle_busy", "gpu-idle", false, "", "", [=] { return gpu_util(repeat(90, 20), false); }});
  v.push_back({"gpu_low_util", "gpu-low-utilization", true, "medium", "30 %", [=] { return gpu_util(repeat(30, 20), false); }});
  v.push_back({"gpu_low_util_busy", "gpu-low-utilization", false, "", "", [=] { return gpu_util(repeat(80, 20), false); }});
  v.push_back({"gpu_memory_near_limit", "gpu-memory-near-limit", true, "high", "15.5 GiB of 16.0 GiB",
               [=] { return gpu_memory(15.5 * GiB); }});
  v.push_back({"gpu_memory_fine", "gpu-memory-near-limit", false, "", "", [=] { return gpu_memory(12 * GiB); }});
  v.push_back({"leak_by_allocation_balance", "memory-leak-suspected", true, "high", "keep_history", [] {
                 auto b = one_op("keep_history", Category::Custom, 100, 0.001);
                 b.allocations(0, 2 * MiB, 0);
                 return b.build();
               }});
  v.push_back({"leak_freed_by_consumer", "memory-leak-suspected", false, "", "", [] {
                 SnapshotBuilder b(10.0);
                 const auto load = b.op("load_batch", Category::DataLoading, 100, 0.01);
                 b.top(load);
                 b.allocations(load, 2 * MiB, 0);
                 const auto step = b.op("train_step", Category::TrainingLoop, 100, 0.05);
                 b.top(step);
                 b.allocations(step, 0, 2 * MiB);
                 return b.build();
               }});
  auto rss = [](bool leaks) {
    auto b = one_op("work", Category::Custom, 100, 0.05);
    std::vector<double> samples;
    for (int i = 0; i < 100; ++i) {
      const double level = leaks ? 100 * MiB + i * MiB : 100 * MiB + std::min(i, 20) * MiB;
      samples.push_back(level + (i % 2 ? 0.3 : -0.3) * MiB);
    }
    b.timeline("rss_bytes", "bytes", 0.1, samples);
    return b.build();
  };
  v.push_back({"leak_rss_rising", "memory-leak-suspected", true, "high", "the process", [=] { return rss(true); }});
  v.push_back({"leak_rss_lazy_cache_then_flat", "memory-leak-suspected", false, "", "", [] {
                 auto b = one_op("work", Category::Custom, 100, 0.05);
                 std::vector<double> samples;  // rises for half the run (a cache filling up), then stays
                 for (int i = 0; i < 100; ++i) samples.push_back(100 * MiB + std::min(i, 50) * 2 * MiB + (i % 2) * 0.1 * MiB);
                 b.timeline("rss_bytes", "bytes", 0.1, samples);
                 return b.build();
               }});
  v.push_back({"leak_rss_plateau_after_warmup", "memory-leak-suspected", false, "", "", [=] { return rss(false); }});
  auto slowing = [](bool slows) {
    auto b = one_op("step", Category::Custom, 40, 0.002);
    std::vector<double> means = concat(repeat(0.001, 20), repeat(slows ? 0.003 : 0.001, 20));
    if (!slows) means[30] = means[31] = 0.010;
    b.windows(0, means, 0.25);
    return b.build();
  };
  v.push_back({"slowdown_tripled", "slowdown-detected", true, "medium", "3.00x", [=] { return slowing(true); }});
  v.push_back({"slowdown_flat_with_outliers", "slowdown-detected", false, "", "", [=] { return slowing(false); }});
  auto spiky = [](double slowest_s) {
    auto b = one_op("infer_one", Category::Custom, 1000, 0.002);
    b.at(0).slowest = {{ns(3.2), static_cast<std::uint64_t>(ns(slowest_s)), 0}};
    return b.build();
  };
  v.push_back({"spike_25x", "latency-spikes", true, "medium", "3.20 s", [=] { return spiky(0.050); }});
  v.push_back({"spike_2x_is_normal", "latency-spikes", false, "", "", [=] { return spiky(0.004); }});
  auto contended = [](std::optional<double> efficiency, double min_s) {
    SnapshotBuilder b(0.1);
    const auto op = b.op("update_shared", Category::Custom, 400, 0.0008);
    b.top(op);
    b.on_threads(op, {0, 1, 2, 3});
    b.percentiles(op, min_s, 0.0015, 0.003);
    if (efficiency) b.cpu_efficiency(op, *efficiency);
    return b.build();
  };
  v.push_back({"contention_measured", "lock-contention", true, "high", "4 threads", [=] { return contended(0.25, 0.0002); }});
  v.push_back({"contention_parallel_compute", "lock-contention", false, "", "", [=] { return contended(0.9, 0.0002); }});
  v.push_back({"contention_estimated", "lock-contention", true, "medium", "", [=] { return contended(std::nullopt, 0.0002); }});
  v.push_back({"contention_even_durations", "lock-contention", false, "", "",
               [=] { return contended(std::nullopt, 0.00075); }});
  auto reader = [](double efficiency, Category c) {
    auto b = one_op("read_shard", c, 100, 0.031);
    b.resource(0, ProbeMetric::IoReadBytes, static_cast<std::int64_t>(100 * MiB));
    b.cpu_efficiency(0, efficiency);
    return b.build();
  };
  v.push_back({"io_waiting_reader", "io-bound", true, "high", "100.0 MiB", [=] { return reader(0.1, Category::Io); }});
  v.push_back({"io_cpu_bound_reader", "io-bound", false, "", "", [=] { return reader(0.9, Category::Io); }});
  // 100 fetches of 50 ms (half of a 10 s run), each receiving 1 MiB, blocked in socket calls for the given share.
  auto fetcher = [](double blocked_share) {
    auto b = one_op("fetch_shard", Category::DataLoading, 100, 0.05);
    b.resource(0, ProbeMetric::NetRecvBytes, static_cast<std::int64_t>(100 * MiB));
    b.resource(0, ProbeMetric::NetSentBytes, 100 * 200);
    b.resource(0, ProbeMetric::NetCalls, 100 * 70);
    b.resource(0, ProbeMetric::NetBlockedNs, std::llround(blocked_share * 5e9));
    b.cpu_efficiency(0, 0.95 - blocked_share);
    return b.build();
  };
  v.push_back({"network_blocked_fetch", "network-bound", true, "high", "about 6 requests in flight",
               [=] { return fetcher(0.82); }});
  v.push_back({"network_cpu_bound_fetch", "network-bound", false, "", "", [=] { return fetcher(0.1); }});
  v.push_back({"cpu_waiting_sleeper", "cpu-waiting", true, "medium", "5.0 %", [] {
                 auto b = one_op("wait_remote", Category::Custom, 100, 0.05);
                 b.cpu_efficiency(0, 0.05);
                 return b.build();
               }});
  v.push_back({"cpu_waiting_is_io", "cpu-waiting", false, "", "", [=] { return reader(0.05, Category::Custom); }});
  auto switches = [](double per_s) {
    auto b = one_op("work", Category::Custom, 100, 0.05);
    std::vector<double> counter;
    for (int i = 0; i <= 20; ++i) counter.push_back(per_s * 0.5 * i);
    b.timeline("ctx_switches_involuntary", "count", 0.5, counter);
    return b.build();
  };
  v.push_back({"context_switches_many", "high-context-switches", true, "low", "2000 involuntary", [=] { return switches(2000); }});
  v.push_back({"context_switches_few", "high-context-switches", false, "", "", [=] { return switches(100); }});
  auto sync = [](double sync_s) {
    auto b = training(0.0, 0.1);
    b.snapshot().sync_ns = ns(sync_s);
    return b.build();
  };
  v.push_back({"sync_heavy", "excessive-synchronization", true, "high", "35.0 %", [=] { return sync(3.5); }});
  v.push_back({"sync_light", "excessive-synchronization", false, "", "", [=] { return sync(0.1); }});
  auto dropped = [](std::uint64_t n) {
    auto b = one_op("work", Category::Custom, 100, 0.05);
    b.snapshot().events_dropped = n;
    b.snapshot().events_recorded = 900;
    return b.build();
  };
  v.push_back({"events_dropped", "profiler-events-dropped", true, "medium", "100 events", [=] { return dropped(100); }});
  v.push_back({"events_complete", "profiler-events-dropped", false, "", "", [=] { return dropped(0); }});
  // ---- the program's own metrics: a counter at `early` per second for 4 s, then `late` per second
  auto pages = [](double early, double late) {
    auto b = one_op("score", Category::Custom, 100, 0.05);
    CustomMetric m;
    m.name = "pages_scored";
    m.kind = MetricKind::Counter;
    m.unit = "pages";
    for (int i = 0; i < 40; ++i) {
      const double per_s = (i < 20 ? early : late) * (1.0 + 0.02 * (i % 3));
      const double in_window = per_s * 0.2;
      m.series.push_back({i * 200'000'000LL, 200'000'000LL, 10, in_window, in_window / 10, in_window / 10, 0});
      m.count += 10;
      m.sum += in_window;
    }
    m.last = m.sum;
    m.mean = m.sum / static_cast<double>(m.count);
    b.snapshot().custom_metrics.push_back(m);
    CustomMetric loss;
    loss.name = "loss";
    loss.count = 10;
    loss.mean = loss.last = 2.0;
    b.snapshot().custom_metrics.push_back(loss);
    return b.build();
  };
  v.push_back({"metric_rate_drops", "custom-metric-rate-drop", true, "medium", "from 102.0 pages/s to 51.0 pages/s",
               [=] { return pages(100, 50); }});
  v.push_back({"metric_rate_steady", "custom-metric-rate-drop", false, "", "", [=] { return pages(100, 95); }});
  v.push_back({"metric_loss_critical", "custom-metric-threshold", true, "high", "above its critical threshold of 1.500",
               [=] { return pages(100, 100); },
               [](Config& c) {
                 c.custom_metrics["loss"].warning = 1.0;
                 c.custom_metrics["loss"].critical = 1.5;
               }});
  v.push_back({"metric_throughput_ok", "custom-metric-threshold", false, "", "", [=] { return pages(100, 100); },
               [](Config& c) {
                 c.custom_metrics["pages_scored"].warning = 50;  // about 100 pages/s: fine
                 c.custom_metrics["pages_scored"].below = true;
               }});
  return v;
}

class RuleTable : public ::testing::TestWithParam<RuleCase> {};

TEST_P(RuleTable, FiresOnlyWithItsEvidence) {
  const RuleCase& c = GetParam();
  Config config;
  c.configure(config);
  const Findings f = analysis::analyze(c.make(), config);
  const Recommendation* r = find_recommendation(f, c.rule);
  std::string all;
  for (const auto& x : f.recommendations) all += x.id + " ";
  if (!c.fires) {
    EXPECT_EQ(r, nullptr) << c.rule << " fired: " << (r ? r->evidence_text : "");
    return;
  }
  ASSERT_NE(r, nullptr) << c.rule << " did not fire; fired: " << all;
  EXPECT_EQ(to_string(r->priority), c.priority) << r->evidence_text;
  EXPECT_FALSE(r->evidence.empty());
  for (const auto& e : r->evidence) EXPECT_TRUE(std::isfinite(e.value)) << e.metric;
  EXPECT_FALSE(r->evidence_text.empty());
  EXPECT_EQ(r->action.find('{'), std::string::npos) << "unfilled template value: " << r->action;
  EXPECT_EQ(r->title.find('{'), std::string::npos) << "unfilled template value: " << r->title;
  if (!c.action_contains.empty()) {
    EXPECT_NE(r->action.find(c.action_contains), std::string::npos) << "action: " << r->action;
  }
}

INSTANTIATE_TEST_SUITE_P(Catalogue, RuleTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<RuleCase>& i) { return i.param.name; });

// batch-size-small does not decide without enough steps or without the optimizer's time, and says so.
TEST(RuleUndecided, BatchSizeSaysWhatItNeeds) {
  const auto note = [](const Findings& f) -> const Inconclusive* {
    for (const auto& i : f.inconclusive)
      if (i.check == "batch-size-small") return &i;
    return nullptr;
  };
  SnapshotBuilder few(0.025);
  few.top(few.op("train_step", Category::TrainingLoop, 50, 0.0005));
  const Findings a = analysis::analyze(few.build(), Config{});
  ASSERT_NE(note(a), nullptr);
  EXPECT_EQ(note(a)->needs, ">= 100 steps");
  EXPECT_EQ(note(a)->had, "50 steps");

  SnapshotBuilder no_optimizer(0.5);
  no_optimizer.top(no_optimizer.op("train_step", Category::TrainingLoop, 1000, 0.0005));
  const Findings b = analysis::analyze(no_optimizer.build(), Config{});
  ASSERT_NE(note(b), nullptr);
  EXPECT_NE(note(b)->needs.find("gradient_accumulation"), std::string::npos) << note(b)->needs;
  EXPECT_NE(note(b)->had.find("1000 steps"), std::string::npos) << note(b)->had;
}

// Every rule of the catalogue has a firing and a silent case above.
TEST(RuleCatalogue, EveryRuleHasBothTableCases) {
  std::map<std::string, std::set<bool>> seen;
  for (const auto& c : cases()) seen[c.rule].insert(c.fires);
  for (const auto& rule : analysis::rule_catalogue()) {
    EXPECT_EQ(seen[std::string(rule.id)].size(), 2u) << rule.id;
  }
}

TEST(RuleCatalogue, IdsAreUniqueKebabCaseAndDocumented) {
  std::ifstream in(std::string(CODEPROF_SOURCE_DIR) + "/docs/RULES.md");
  ASSERT_TRUE(in) << "docs/RULES.md missing";
  std::stringstream doc;
  doc << in.rdbuf();
  // kebab-case: lower-case words of letters and digits joined by single dashes.
  auto kebab = [](const std::string& id) {
    if (id.empty() || id.front() == '-' || id.back() == '-' || id.find("--") != std::string::npos) return false;
    return std::all_of(id.begin(), id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
  };
  std::set<std::string> ids;
  for (const auto& rule : analysis::rule_catalogue()) {
    const std::string id(rule.id);
    EXPECT_TRUE(kebab(id)) << id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    EXPECT_NE(doc.str().find("### " + id), std::string::npos) << id << " has no section in docs/RULES.md";
    EXPECT_FALSE(rule.threshold_source.empty()) << id;
  }
}

// Rules write their priorities as the reports spell them; every default must be one.
TEST(RuleCatalogue, DefaultPrioritiesAreHighMediumOrLow) {
  for (const auto& rule : analysis::rule_catalogue())
    EXPECT_TRUE(priority_from_string(rule.priority).has_value()) << rule.id << ": '" << rule.priority << "'";
}

TEST(RuleCatalogue, TypesAreCategoriesOrSystem) {
  for (const auto& rule : analysis::rule_catalogue())
    EXPECT_TRUE(recommendation_type_from_string(rule.type).has_value()) << rule.id << ": '" << rule.type << "'";
}

TEST(RuleEvidence, WorkersComeFromEfficiencyAndCores) {
  auto b = training(0.05, 0.02);
  b.cpu_efficiency(1, 0.05);
  const Findings f = analysis::analyze(b.build(), Config{});
  const Recommendation* r = find_recommendation(f, "input-bound-workers");
  ASSERT_NE(r, nullptr);
  EXPECT_NEAR(evidence(*r, "input_share_of_step_time"), 0.05 / 0.07, 1e-6);
  EXPECT_NEAR(evidence(*r, "input_wait_per_step"), 0.05, 1e-6);
  EXPECT_NEAR(evidence(*r, "load_time_per_step"), 0.05, 1e-6);
  EXPECT_NEAR(evidence(*r, "compute_time_per_step"), 0.02, 1e-6);
  EXPECT_NEAR(evidence(*r, "loader_cpu_efficiency"), 0.05, 1e-6);
  EXPECT_EQ(evidence(*r, "hardware_threads"), 8);
  EXPECT_EQ(r->type, recommendation_type(Category::DataLoading));
  // Both input rules fire; the workers rule comes first.
  ASSERT_GE(f.recommendations.size(), 2u);
  EXPECT_EQ(f.recommendations[0].id, "input-bound-workers");
  EXPECT_EQ(f.recommendations[1].id, "input-prefetch");
}

TEST(RuleEvidence, NetworkBoundReportsBlockedShareAndRate) {
  SnapshotBuilder b(10.0);
  const auto fetch = b.op("fetch_shard", Category::DataLoading, 100, 0.05);
  b.top(fetch);
  b.resource(fetch, ProbeMetric::NetRecvBytes, static_cast<std::int64_t>(155 * MiB));
  b.resource(fetch, ProbeMetric::NetBlockedNs, std::llround(0.82 * 5e9));
  const Findings f = analysis::analyze(b.build(), Config{});
  const Recommendation* r = find_recommendation(f, "network-bound");
  ASSERT_NE(r, nullptr);
  EXPECT_NEAR(evidence(*r, "network_blocked_share"), 0.82, 1e-9);
  EXPECT_NEAR(evidence(*r, "network_receive_rate"), 155 * MiB / 5.0, 1.0);  // over the calls' 5 s
  EXPECT_NE(r->title.find("fetch_shard is network-bound: 82.0 % of its time"), std::string::npos) << r->title;
  EXPECT_NE(r->title.find("31.0 MiB/s"), std::string::npos) << r->title;
}

TEST(RuleEvidence, LeakReportsGrowthPerStep) {
  auto b = training(0.0, 0.01);
  const auto keep = b.op("keep_history", Category::Custom, 100, 0.0001);
  b.child(0, keep);
  b.allocations(keep, 1 * MiB, 0);
  b.allocations(0, 1 * MiB, 0);  // the step holds it too (inclusive); the innermost is blamed
  const Findings f = analysis::analyze(b.build(), Config{});
  const Recommendation* r = find_recommendation(f, "memory-leak-suspected");
  ASSERT_NE(r, nullptr);
  EXPECT_NEAR(evidence(*r, "retained_bytes_per_step"), 1 * MiB, 1.0);
  EXPECT_NEAR(evidence(*r, "retained_bytes"), 100 * MiB, 100.0);
  EXPECT_EQ(r->evidence.front().operation, "keep_history");
  EXPECT_NE(r->action.find("1.0 MiB per step"), std::string::npos) << r->action;
}

TEST(RuleOrder, HighBeforeMediumBeforeLowAndStable) {
  auto b = training(0.05, 0.02);
  b.cpu_efficiency(1, 0.05);
  b.snapshot().events_dropped = 5;
  b.snapshot().events_recorded = 100000;
  const Snapshot s = b.build();
  const Findings f1 = analysis::analyze(s, Config{});
  const Findings f2 = analysis::analyze(s, Config{});
  ASSERT_EQ(f1.recommendations.size(), f2.recommendations.size());
  auto rank = [](Priority p) { return p == Priority::High ? 0 : p == Priority::Medium ? 1 : 2; };
  for (std::size_t i = 0; i < f1.recommendations.size(); ++i) {
    EXPECT_EQ(f1.recommendations[i].id, f2.recommendations[i].id);
    EXPECT_EQ(f1.recommendations[i].action, f2.recommendations[i].action);
    if (i) {
      EXPECT_LE(rank(f1.recommendations[i - 1].priority), rank(f1.recommendations[i].priority));
    }
  }
  EXPECT_EQ(f1.recommendations.back().id, "profiler-events-dropped");
}

}  // namespace
}  // namespace codeprof
