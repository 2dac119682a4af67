// The rule catalogue. A rule fires only when the Snapshot holds its evidence; each firing carries
// the numbers (Evidence) and a concrete action computed from them. docs/RULES.md documents every
// rule: trigger, thresholds, text and the source of each threshold.
#include "analysis/rules.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "analysis/call_tree.hpp"
#include "analysis/priority.hpp"
#include "analysis/rules_custom_metrics.hpp"
#include "analysis/text_format.hpp"

namespace codeprof::analysis {
namespace {

// ---------------------------------------------------------------- thresholds (see docs/RULES.md)
// CPU efficiency (thread CPU time / wall time). A thread that sleeps or blocks reads near 0; a
// CPU-bound thread reads near 1 on an idle machine but only 1/(runnable threads per core) on an
// oversubscribed one (runnable but preempted: 0.17 at a load of 12 on 2 cores, as measured on the
// shared build machine). So advice to compute less is withheld only below 5 % (asleep), "waiting"
// alone needs under 10 %, and 50 % counts as waiting only together with other evidence (I/O
// bytes, lock-like durations).
constexpr double kAsleepCpu = 0.05;
constexpr double kMostlyWaitingCpu = 0.1;
constexpr double kWaitingCpu = 0.5;
constexpr double kLargeShare = 0.20;            // "a large share of the run"
constexpr double kNoticeableShare = 0.10;
constexpr double kSmallShare = 0.05;
constexpr std::uint64_t kManyCalls = 100;
// Batch size: a step's cost is work that grows with the batch plus work that does not (the
// optimizer update, the scheduler, the loop's own code). With a share f of the latter, a k times
// larger batch cuts the time per sample by f * (1 - 1/k). The rule fires when a 4x larger batch
// would save a noticeable share (10 %, kNoticeableShare), i.e. f >= 0.10 / (1 - 1/4) = 13.3 %, and
// suggests the factor that brings f down to 5 % (kSmallShare).
constexpr double kBatchFactorProbe = 4.0;
constexpr double kSmallInferenceS = 10e-3;
constexpr double kTinyStageS = 100e-6;
constexpr std::uint64_t kTinyStageCalls = 1000;
constexpr double kManyAllocsPerCall = 100.0;
constexpr double kLargeAllocPerCall = 1024.0 * 1024;
constexpr double kLargeInferenceMemory = 256.0 * 1024 * 1024;
constexpr double kMinIoBytes = 1024.0 * 1024;
constexpr double kMinLateReadShare = 0.2;       // reads still happening late in training
constexpr double kGpuIdleShare = 0.30;          // HTA / TF overview: idle time worth acting on
constexpr double kGpuLowUtilization = 50.0;     // percent
constexpr double kGpuMemoryNearLimit = 0.90;
constexpr double kGpuImbalancePoints = 30.0;
constexpr double kSyncShare = 0.10;
constexpr double kSwitchesPerHwThread = 100.0;  // involuntary switches per second per hardware thread
constexpr double kLargeLeakBytes = 64.0 * 1024 * 1024;

Evidence ev(std::string metric, double value, std::string unit, std::string operation = {}) {
  return Evidence{std::move(metric), value, std::move(unit), std::move(operation)};
}

std::string efficiency_text(const std::optional<double>& e) {
  if (!e) return "its CPU efficiency was not measured (enable metrics.cpu to confirm)";
  return format_percent(*e) + " of its wall time on the CPU";
}

int hardware_threads(const Facts& f) { return std::max(1, f.snapshot.run.hardware_threads); }

// Input time share: from the steps when known, else data loading + preprocessing self time / wall.
struct InputBound {
  double share = 0.0;
  bool from_steps = false;
};
std::optional<InputBound> input_bound(const Facts& f) {
  const InputPipelineClass& in = f.classification.input;
  if (in.level == "highly" || in.level == "moderately") return InputBound{in.input_share, true};
  if (in.level != "unknown" || f.wall_s <= 0.0) return std::nullopt;
  const double share =
      (f.category_self_s(Category::DataLoading) + f.category_self_s(Category::Preprocessing)) / f.wall_s;
  if (share < kHighlyInputBound) return std::nullopt;
  return InputBound{std::min(1.0, share), false};
}

// The operation that loads for the steps: the input operation that stalled them most (inside or
// between them); without steps, the data_loading operation with the most self time (else the
// largest preprocessing one).
const OperationFacts* loader(const Facts& f) {
  const OperationFacts* best = nullptr;
  double best_s = 0.0;
  for (const auto& [id, stalled_s] : f.steps.input_by_operation)
    if (stalled_s > best_s)
      if (const OperationFacts* o = f.operation(id)) {
        best = o;
        best_s = stalled_s;
      }
  if (best) return best;
  auto dl = f.in_category(Category::DataLoading);
  if (!dl.empty()) return dl.front();
  auto pp = f.in_category(Category::Preprocessing);
  return pp.empty() ? nullptr : pp.front();
}

// CPU efficiency over all data loading operations that measured it.
std::optional<double> loading_efficiency(const Facts& f) {
  double cpu = 0.0, wall = 0.0;
  for (const OperationFacts* o : f.in_category(Category::DataLoading)) {
    if (!o->cpu_efficiency) continue;
    const double measured = o->op->mean_ns * static_cast<double>(o->op->resource(ProbeMetric::CpuTimeNs).samples);
    cpu += *o->cpu_efficiency * measured;
    wall += measured;
  }
  if (wall <= 0.0) return std::nullopt;
  return cpu / wall;
}

// Loading on other threads than the steps' (loader workers): the data_loading operation that runs
// there most, and the threads that ran data loading. Workers re-created every epoch are new
// threads each time, so this can count more workers than ran at once; the rule then stays silent
// rather than ask for workers that were there (their calls in flight would undercount instead:
// idle workers, e.g. waiting for CPU or for the prefetch window, do not show).
struct LoaderWorkers {
  const OperationFacts* op = nullptr;
  std::size_t threads = 0;
};
LoaderWorkers loader_workers(const Facts& f) {
  LoaderWorkers w;
  if (f.steps.step_threads.empty()) return w;
  const ThreadTimes times(f.snapshot);
  std::set<std::uint32_t> threads;
  double most = 0.0;
  for (const ThreadStats& t : f.snapshot.threads) {
    if (std::find(f.steps.step_threads.begin(), f.steps.step_threads.end(), t.index) != f.steps.step_threads.end())
      continue;
    for (const ThreadOperationStats& to : t.operations) {
      const OperationStats* op = operation_by_id(f.snapshot, to.operation_id);
      // Input work off the steps' threads: loading, or a Dataset's preprocessing inside a loader
      // worker (a DataLoader worker process reports its __getitem__ scopes as its own threads).
      if (op && (op->category == Category::DataLoading || op->category == Category::Preprocessing) && to.count > 0)
        threads.insert(t.index);
    }
  }
  for (const OperationFacts* o : f.in_category(Category::DataLoading)) {
    const double off_steps = (1.0 - times.fraction_on(o->op->id, f.steps.step_threads)) * o->total_s;
    if (off_steps > most) {
      most = off_steps;
      w.op = o;
    }
  }
  w.threads = threads.size();
  return w;
}

// Input and compute time per step (or per loader call without steps).
std::pair<double, double> input_and_compute_per_step(const Facts& f, const OperationFacts& load) {
  if (f.steps.count > 0) {
    const double n = static_cast<double>(f.steps.count);
    return {f.steps.input_s() / n, f.steps.compute_per_step_s()};
  }
  const double calls = static_cast<double>(std::max<std::uint64_t>(1, load.op->count));
  const double input = f.category_total_s(Category::DataLoading) + f.category_total_s(Category::Preprocessing);
  return {input / calls, std::max(0.0, f.wall_s - input) / calls};
}

// ---------------------------------------------------------------- data loading

std::optional<RuleFiring> input_bound_workers(const Facts& f) {
  const auto bound = input_bound(f);
  const OperationFacts* load = loader(f);
  if (!bound || !load) return std::nullopt;
  const auto [stall_s, compute_s] = input_and_compute_per_step(f, *load);
  const LoaderWorkers workers_now = loader_workers(f);
  // Loading work per step wherever it runs: on workers it is more than the steps' wait for it.
  const OperationFacts* worker_op = workers_now.op ? workers_now.op : load;
  const double load_s =
      f.steps.count > 0 ? std::max(stall_s, worker_op->total_s / static_cast<double>(f.steps.count)) : stall_s;
  if (load_s <= 0.0) return std::nullopt;
  const int hw = hardware_threads(f);
  const auto eff = loading_efficiency(f);
  // Workers needed so that loading a step's input (load_s each, in parallel) keeps pace with
  // compute_s; bounded by the cores a worker occupies (its CPU efficiency) on the threads left.
  const double needed = std::ceil(load_s / std::max(compute_s, 1e-6));
  const double cpu_per_worker = std::max(eff.value_or(1.0), 0.1);
  const double cap = std::max(1.0, std::floor(std::max(1, hw - 1) / cpu_per_worker));
  const auto workers = static_cast<std::size_t>(std::clamp(needed, 2.0, std::max(2.0, cap)));
  const std::size_t current = workers_now.threads;
  if (workers <= current) return std::nullopt;
  RuleFiring r;
  r.priority = bound->share >= kHighlyInputBound ? "high" : "medium";
  // Workers hide the input time but still spend it: a rule that removes an operation's own cost
  // (preprocessing-vectorize) ranks first at equal share.
  r.impact = bound->share * 0.9;
  r.evidence = {ev(bound->from_steps ? "input_share_of_step_time" : "input_share_of_wall_time", bound->share, "ratio"),
                ev("input_wait_per_step", stall_s, "s"),
                ev("load_time_per_step", load_s, "s", worker_op->op->name),
                ev("compute_time_per_step", compute_s, "s"),
                ev("loader_worker_threads", static_cast<double>(current), "count"),
                ev("hardware_threads", hw, "count")};
  if (eff) r.evidence.push_back(ev("loader_cpu_efficiency", *eff, "ratio", load->op->name));
  r.values = {{"workers", std::to_string(workers)},
              {"current", std::to_string(current)},
              {"share", format_percent(bound->share)},
              {"input", format_seconds(load_s)},
              {"compute", format_seconds(compute_s)},
              {"hw", std::to_string(hw)},
              {"op", worker_op->op->name},
              {"efficiency", eff ? "the loader is " + format_percent(*eff) + " CPU-busy, so " + std::to_string(workers) +
                                       " workers fit in " + std::to_string(hw) + " hardware threads"
                                 : "the loader's CPU efficiency was not measured (enable metrics.cpu); the count assumes it is CPU-bound"}};
  return r;
}

std::optional<RuleFiring> input_prefetch(const Facts& f) {
  const auto bound = input_bound(f);
  const OperationFacts* load = loader(f);
  if (!bound || !load) return std::nullopt;
  // Synchronous: the loading ran on the steps' thread(s), in series with them, and nowhere else
  // (with loader workers there is a queue to prefetch into already).
  if (loader_workers(f).threads > 0) return std::nullopt;
  const double on_step_threads =
      f.steps.step_threads.empty() ? (load->threads <= 1 ? 1.0 : 0.0)
                                   : thread_fraction(f.snapshot, load->op->id, f.steps.step_threads);
  if (on_step_threads < 0.5) return std::nullopt;
  const auto [input_s, compute_s] = input_and_compute_per_step(f, *load);
  const double jitter = load->mean_s > 0.0 ? load->p95_s / load->mean_s : 1.0;
  const int depth = static_cast<int>(std::clamp(std::ceil(jitter) + 1.0, 2.0, 8.0));
  RuleFiring r;
  r.priority = bound->share >= kHighlyInputBound ? "high" : "medium";
  r.impact = bound->share * 0.89;  // just after the workers rule for the same evidence
  r.evidence = {ev(bound->from_steps ? "input_share_of_step_time" : "input_share_of_wall_time", bound->share, "ratio"),
                ev("loading_on_step_thread", on_step_threads, "ratio", load->op->name),
                ev("input_time_per_step", input_s, "s", load->op->name),
                ev("compute_time_per_step", compute_s, "s"),
                ev("loader_p95_over_mean", jitter, "factor", load->op->name)};
  r.values = {{"op", load->op->name},
              {"depth", std::to_string(depth)},
              {"input", format_seconds(input_s)},
              {"compute", format_seconds(compute_s)},
              {"on_thread", format_percent(on_step_threads)}};
  return r;
}

// Share of an operation's calls that started at or after `t_ns` (from its time windows).
double calls_share_from(const OperationStats& op, std::int64_t t_ns) {
  std::uint64_t late = 0, all = 0;
  for (const DurationWindow& w : op.series) {
    all += w.count;
    if (w.start_ns >= t_ns) late += w.count;
  }
  return all ? static_cast<double>(late) / static_cast<double>(all) : 0.0;
}

std::optional<RuleFiring> data_loading_cache(const Facts& f) {
  const std::int64_t span = f.steps.last_end_ns - f.steps.first_start_ns;
  if (f.steps.count == 0 || span <= 0) return std::nullopt;
  const std::int64_t mid = f.steps.first_start_ns + span / 2;
  // A reading operation that still reads in the second half of training: a cache would have
  // stopped the reads after the first pass.
  const OperationFacts* reader = nullptr;
  double late_share = 0.0;
  for (const auto& o : f.operations) {
    const Category c = o.op->category;
    if (c != Category::DataLoading && c != Category::Io) continue;
    if (!o.io_read_bytes || *o.io_read_bytes < kMinIoBytes || o.op->count < 2) continue;
    if (o.op->first_seen_ns >= mid || o.op->last_seen_ns <= mid) continue;
    const double late = calls_share_from(*o.op, mid);
    if (late < kMinLateReadShare) continue;
    const bool better = !reader || *o.io_read_bytes > *reader->io_read_bytes ||
                        (*o.io_read_bytes == *reader->io_read_bytes && c == Category::DataLoading &&
                         reader->op->category != Category::DataLoading);
    if (better) {
      reader = &o;
      late_share = late;
    }
  }
  double read_bytes = 0.0;
  std::string source;
  if (reader) {
    read_bytes = *reader->io_read_bytes;
    source = "io probe";
  } else if (const TimelineSeries* io = f.snapshot.timeline("io_read_bytes_per_s");
             io && io->values.size() >= 8 && io->t_ns.size() == io->values.size()) {
    // No per-operation I/O: the process read as fast in the second half of training as in the first.
    double early = 0.0, late = 0.0;
    std::size_t ne = 0, nl = 0;
    for (std::size_t i = 0; i < io->values.size(); ++i) {
      if (io->t_ns[i] < f.steps.first_start_ns || io->t_ns[i] > f.steps.last_end_ns) continue;
      (io->t_ns[i] < mid ? early : late) += io->values[i];
      ++(io->t_ns[i] < mid ? ne : nl);
    }
    if (ne < 4 || nl < 4) return std::nullopt;
    early /= static_cast<double>(ne);
    late /= static_cast<double>(nl);
    if (late < kMinIoBytes || late < 0.5 * early) return std::nullopt;
    const auto dl = f.in_category(Category::DataLoading);
    if (dl.empty() || dl.front()->op->last_seen_ns <= mid) return std::nullopt;
    reader = dl.front();
    late_share = calls_share_from(*reader->op, mid);
    read_bytes = (early + late) / 2.0 * ns_to_s(static_cast<double>(span));
    source = "io_read_bytes_per_s timeline";
  } else {
    return std::nullopt;
  }
  RuleFiring r;
  r.priority = reader->self_share >= kLargeShare ? "high" : "medium";
  r.impact = std::max(reader->self_share, 0.01);
  r.evidence = {ev("bytes_read", read_bytes, "bytes", reader->op->name),
                ev("calls_in_second_half_of_training", late_share, "ratio", reader->op->name),
                ev("read_time", reader->total_s, "s", reader->op->name),
                ev("calls", static_cast<double>(reader->op->count), "count", reader->op->name)};
  std::string passes;
  if (f.steps.passes >= 2 && f.steps.pass_operation) {
    r.evidence.push_back(ev("passes", static_cast<double>(f.steps.passes), "count"));
    passes = " over " + format_count(f.steps.passes) + " passes (" + format_bytes(read_bytes / static_cast<double>(f.steps.passes)) +
             " per pass)";
  }
  r.values = {{"op", reader->op->name},
              {"total", format_bytes(read_bytes)},
              {"passes", passes},
              {"late", format_percent(late_share)},
              {"time", format_seconds(reader->total_s)},
              {"calls", format_count(reader->op->count)},
              {"source", source}};
  return r;
}

// Work in the steps whose cost does not grow with the batch: the optimizer update (category
// gradient_accumulation, or PyTorch's "Optimizer.step#Adam.step" / "Optimizer.zero_grad#..."),
// the learning-rate scheduler, and (with a step operation) the step's own code between the
// operations it calls.
bool batch_independent(const OperationStats& op) {
  return op.category == Category::GradientAccumulation || op.category == Category::LrScheduling ||
         op.name.starts_with("Optimizer.");
}

struct StepFixedWork {
  double seconds = 0.0;            // over all steps
  std::vector<std::string> parts;  // what it is made of, largest first
  bool measured = false;           // an optimizer (or scheduler) operation was seen in the steps
};

StepFixedWork step_fixed_work(const Facts& f) {
  StepFixedWork w;
  std::vector<std::pair<double, std::string>> parts;
  if (f.steps.step_operation) {
    const CallTree tree(f.snapshot);
    const auto is_fixed = [&](std::uint32_t id) {
      const OperationStats* op = operation_by_id(f.snapshot, id);
      return op && batch_independent(*op);
    };
    for (const auto& [id, ns] : tree.time_under(*f.steps.step_operation, is_fixed))
      if (is_fixed(id) && ns > 0.0) parts.emplace_back(ns_to_s(ns), operation_by_id(f.snapshot, id)->name);
    w.measured = !parts.empty();
    if (const OperationStats* step = operation_by_id(f.snapshot, *f.steps.step_operation); step && step->self_ns > 0)
      parts.emplace_back(ns_to_s(static_cast<double>(step->self_ns)), "the step's own code");
  } else {
    // Step spans from a trace: its optimizer operations run inside the steps.
    for (const auto& op : f.snapshot.operations)
      if (batch_independent(op) && op.total_ns > 0) parts.emplace_back(ns_to_s(static_cast<double>(op.total_ns)), op.name);
    w.measured = !parts.empty();
  }
  std::sort(parts.begin(), parts.end(), std::greater<>());
  for (const auto& [seconds, name] : parts) {
    w.seconds += seconds;
    w.parts.push_back(name + " " + format_seconds(seconds));
  }
  w.seconds = std::min(w.seconds, f.steps.step_time_s);
  return w;
}

std::optional<RuleFiring> batch_size_small(const Facts& f) {
  if (f.steps.count < kManyCalls || f.steps.step_time_s <= 0.0) return std::nullopt;
  const StepFixedWork fixed = step_fixed_work(f);
  if (!fixed.measured) return std::nullopt;
  const double share = fixed.seconds / f.steps.step_time_s;
  const double min_share = kNoticeableShare / (1.0 - 1.0 / kBatchFactorProbe);
  if (share < min_share) return std::nullopt;
  // The factor that brings the fixed share to kSmallShare: k = f (1 - t) / (t (1 - f)).
  const double wanted = share * (1.0 - kSmallShare) / (kSmallShare * std::max(1.0 - share, 0.01));
  const double factor = std::clamp(std::pow(2.0, std::ceil(std::log2(wanted))), 2.0, 64.0);
  RuleFiring r;
  r.impact = share * (1.0 - 1.0 / factor);  // the share of the time per sample a factor-x batch saves
  r.evidence = {ev("fixed_work_share_of_step", share, "ratio"),
                ev("fixed_work_per_step", fixed.seconds / static_cast<double>(f.steps.count), "s"),
                ev("steps", static_cast<double>(f.steps.count), "count"),
                ev("median_step_time", f.steps.median_step_s, "s")};
  std::string batch;
  if (const auto it = f.snapshot.run.metadata.find("batch_size"); it != f.snapshot.run.metadata.end()) {
    try {
      const double b = std::stod(it->second);
      r.evidence.push_back(ev("batch_size", b, "count"));
      batch = " (from " + format_number(b, 0) + " to about " + format_number(b * factor, 0) + ")";
    } catch (const std::exception&) {
    }
  }
  std::string parts;
  for (std::size_t i = 0; i < fixed.parts.size() && i < 3; ++i) parts += (i ? ", " : "") + fixed.parts[i];
  r.values = {{"steps", format_count(f.steps.count)},
              {"median", format_seconds(f.steps.median_step_s)},
              {"share", format_percent(share)},
              {"parts", parts},
              {"batch", batch},
              {"saving", format_percent(share * (1.0 - 1.0 / factor))},
              {"factor", format_number(factor, 0)}};
  return r;
}

// ---------------------------------------------------------------- preprocessing

std::optional<RuleFiring> preprocessing_vectorize(const Facts& f) {
  for (const OperationFacts* o : f.in_category(Category::Preprocessing)) {
    if (o->self_share < kNoticeableShare || o->op->count < 10) continue;
    if (o->cpu_efficiency && *o->cpu_efficiency < kAsleepCpu) continue;  // waiting, not computing
    // Off the critical path: it runs on other threads than the steps and the steps do not wait
    // for input, so making it faster does not shorten the run.
    const bool off_critical_path = f.steps.count > 0 && !f.steps.step_threads.empty() &&
                                   f.classification.input.level == "not" &&
                                   thread_fraction(f.snapshot, o->op->id, f.steps.step_threads) < 0.5;
    RuleFiring r;
    r.priority = o->self_share >= 0.30 && !off_critical_path ? "high" : "medium";
    // On the steps' threads, its share of the iterations: the same base as the input rules', so
    // the operation's own cost ranks before hiding it behind workers.
    const bool on_step_threads = f.steps.count > 0 && f.steps.iteration_s() > 0.0 &&
                                 thread_fraction(f.snapshot, o->op->id, f.steps.step_threads) >= 0.5;
    r.impact = on_step_threads ? std::min(1.0, o->self_s / f.steps.iteration_s()) : o->self_share;
    r.evidence = {ev("self_time_share", o->self_share, "ratio", o->op->name), ev("self_time", o->self_s, "s", o->op->name),
                  ev("mean_duration", o->mean_s, "s", o->op->name), ev("calls", static_cast<double>(o->op->count), "count", o->op->name)};
    if (o->cpu_efficiency) r.evidence.push_back(ev("cpu_efficiency", *o->cpu_efficiency, "ratio", o->op->name));
    r.values = {{"op", o->op->name},
                {"self", format_seconds(o->self_s)},
                {"share", format_percent(o->self_share)},
                {"mean", format_seconds(o->mean_s)},
                {"calls", format_count(o->op->count)},
                {"efficiency", efficiency_text(o->cpu_efficiency)}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> preprocessing_parallelize(const Facts& f) {
  const auto ops = f.in_category(Category::Preprocessing);
  if (ops.empty() || f.wall_s <= 0.0) return std::nullopt;
  const double share = std::min(1.0, f.category_self_s(Category::Preprocessing) / f.wall_s);
  const int hw = hardware_threads(f);
  std::size_t max_threads = 0;
  for (const OperationFacts* o : ops) max_threads = std::max(max_threads, o->threads);
  const OperationFacts* top = ops.front();
  if (share < kLargeShare || hw < 2 || max_threads > 1) return std::nullopt;
  if (top->cpu_efficiency && *top->cpu_efficiency < kAsleepCpu) return std::nullopt;
  RuleFiring r;
  r.impact = share * 0.9;
  r.evidence = {ev("preprocessing_share_of_wall", share, "ratio"), ev("preprocessing_threads", static_cast<double>(max_threads), "count"),
                ev("hardware_threads", hw, "count"), ev("self_time", top->self_s, "s", top->op->name)};
  r.values = {{"op", top->op->name}, {"share", format_percent(share)}, {"hw", std::to_string(hw)},
              {"workers", std::to_string(hw - 1)}};
  return r;
}

std::optional<RuleFiring> preprocessing_memory_reuse(const Facts& f) {
  for (const OperationFacts* o : f.in_category(Category::Preprocessing)) {
    if (o->self_share < kSmallShare) continue;
    const double allocs = o->allocs_per_call.value_or(0.0), bytes = o->alloc_bytes_per_call.value_or(0.0);
    if (allocs < kManyAllocsPerCall && bytes < kLargeAllocPerCall) continue;
    RuleFiring r;
    r.priority = o->self_share >= kLargeShare ? "medium" : "low";
    r.impact = o->self_share;
    r.evidence = {ev("allocations_per_call", allocs, "count", o->op->name), ev("bytes_allocated_per_call", bytes, "bytes", o->op->name),
                  ev("self_time_share", o->self_share, "ratio", o->op->name)};
    r.values = {{"op", o->op->name}, {"allocs", format_number(allocs, 0)}, {"bytes", format_bytes(bytes)},
                {"share", format_percent(o->self_share)}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> pipeline_streamline(const Facts& f) {
  std::vector<const OperationFacts*> tiny;
  double share = 0.0;
  for (const OperationFacts* o : f.in_category(Category::Preprocessing))
    if (o->op->count >= kTinyStageCalls && o->mean_s < kTinyStageS) {
      tiny.push_back(o);
      share += o->self_share;
    }
  if (tiny.size() < 3 || share < kNoticeableShare) return std::nullopt;
  RuleFiring r;
  r.impact = share;
  std::string names;
  for (const OperationFacts* o : tiny) {
    names += (names.empty() ? "" : ", ") + o->op->name;
    r.evidence.push_back(ev("mean_duration", o->mean_s, "s", o->op->name));
  }
  r.evidence.push_back(ev("stages", static_cast<double>(tiny.size()), "count"));
  r.evidence.push_back(ev("stages_share_of_wall", share, "ratio"));
  r.values = {{"stages", names}, {"count", std::to_string(tiny.size())}, {"share", format_percent(share)}};
  return r;
}

// ---------------------------------------------------------------- model inference

// Inference proper: model_inference time outside training steps, as a share of the run.
double inference_share(const Facts& f) {
  return f.wall_s > 0.0 ? std::min(1.0, f.inference_outside_steps_s / f.wall_s) : 0.0;
}

bool used_gpu(const Facts& f) {
  if (f.classification.gpu.available && f.classification.gpu.mean_utilization > 0.0) return true;
  for (const auto& o : f.operations)
    if (o.gpu_time_s && *o.gpu_time_s > 0.0) return true;
  return false;
}

std::optional<RuleFiring> inference_quantize(const Facts& f) {
  const auto ops = f.in_category(Category::ModelInference);
  const double share = inference_share(f);
  if (ops.empty() || share < kLargeShare || used_gpu(f)) return std::nullopt;
  const OperationFacts* top = ops.front();
  if (top->cpu_efficiency && *top->cpu_efficiency < kAsleepCpu) return std::nullopt;
  RuleFiring r;
  r.impact = share;
  r.evidence = {ev("inference_share_of_wall", share, "ratio"), ev("mean_duration", top->mean_s, "s", top->op->name),
                ev("gpu_used", 0.0, "count")};
  if (top->cpu_efficiency) r.evidence.push_back(ev("cpu_efficiency", *top->cpu_efficiency, "ratio", top->op->name));
  r.values = {{"op", top->op->name}, {"share", format_percent(share)}, {"mean", format_seconds(top->mean_s)}};
  return r;
}

std::optional<RuleFiring> inference_prune(const Facts& f) {
  const Thresholds& t = f.config.thresholds[index_of(Category::ModelInference)];
  for (const OperationFacts* o : f.in_category(Category::ModelInference)) {
    if (o->mean_s < t.warning_s) continue;
    RuleFiring r;
    r.impact = o->self_share;
    r.evidence = {ev("mean_duration", o->mean_s, "s", o->op->name), ev("warning_threshold", t.warning_s, "s"),
                  ev("calls", static_cast<double>(o->op->count), "count", o->op->name)};
    r.values = {{"op", o->op->name}, {"mean", format_seconds(o->mean_s)}, {"warning", format_seconds(t.warning_s)}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> inference_compile(const Facts& f) {
  const auto ops = f.in_category(Category::ModelInference);
  const double share = inference_share(f);
  if (ops.empty() || share < kNoticeableShare || ops.front()->op->count < kManyCalls) return std::nullopt;
  const OperationFacts* top = ops.front();
  RuleFiring r;
  r.impact = share * 0.5;
  r.evidence = {ev("calls", static_cast<double>(top->op->count), "count", top->op->name),
                ev("inference_share_of_wall", share, "ratio"), ev("mean_duration", top->mean_s, "s", top->op->name)};
  r.values = {{"op", top->op->name}, {"calls", format_count(top->op->count)}, {"share", format_percent(share)}};
  return r;
}

std::optional<RuleFiring> inference_batching(const Facts& f) {
  const auto ops = f.in_category(Category::ModelInference);
  const double share = inference_share(f);
  if (ops.empty() || share < kNoticeableShare) return std::nullopt;
  const OperationFacts* top = ops.front();
  if (top->op->count < kManyCalls || top->mean_s >= kSmallInferenceS) return std::nullopt;
  RuleFiring r;
  r.priority = share >= kLargeShare ? "medium" : "low";
  r.impact = share;
  r.evidence = {ev("calls", static_cast<double>(top->op->count), "count", top->op->name),
                ev("mean_duration", top->mean_s, "s", top->op->name), ev("inference_share_of_wall", share, "ratio")};
  r.values = {{"op", top->op->name}, {"calls", format_count(top->op->count)}, {"mean", format_seconds(top->mean_s)},
              {"share", format_percent(share)}};
  return r;
}

bool has_mixed_precision(const Facts& f) { return !f.in_category(Category::MixedPrecision).empty(); }

std::optional<RuleFiring> inference_mixed_precision(const Facts& f) {
  const double share = inference_share(f);
  if (!used_gpu(f) || share < kNoticeableShare || has_mixed_precision(f)) return std::nullopt;
  RuleFiring r;
  r.impact = share * 0.5;
  r.evidence = {ev("inference_share_of_wall", share, "ratio"), ev("mixed_precision_operations", 0.0, "count"),
                ev("gpu_mean_utilization", f.classification.gpu.mean_utilization, "percent")};
  r.values = {{"share", format_percent(share)}};
  return r;
}

std::optional<RuleFiring> inference_memory(const Facts& f) {
  for (const OperationFacts* o : f.in_category(Category::ModelInference)) {
    const double gpu = o->op->resource(ProbeMetric::GpuMemDeltaBytes).mean();
    const double peak = o->op->resource(ProbeMetric::AllocPeakBytes).mean();
    const double grow = std::max(gpu, peak);
    if (grow < kLargeInferenceMemory) continue;
    RuleFiring r;
    r.impact = o->self_share;
    r.evidence = {ev(gpu >= peak ? "gpu_memory_delta_per_call" : "allocation_peak_per_call", grow, "bytes", o->op->name)};
    r.values = {{"op", o->op->name}, {"memory", format_bytes(grow)}};
    return r;
  }
  // Device memory near its limit in a run that infers but does not train.
  if (f.steps.count == 0 && f.classification.gpu.peak_memory_fraction >= kGpuMemoryNearLimit &&
      !f.in_category(Category::ModelInference).empty()) {
    RuleFiring r;
    r.impact = f.classification.gpu.peak_memory_fraction;
    const OperationFacts* top = f.in_category(Category::ModelInference).front();
    r.evidence = {ev("gpu_peak_memory_fraction", f.classification.gpu.peak_memory_fraction, "ratio"),
                  ev("self_time", top->self_s, "s", top->op->name)};
    r.values = {{"op", top->op->name}, {"memory", format_percent(f.classification.gpu.peak_memory_fraction) + " of device memory"}};
    return r;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- training loop

std::optional<RuleFiring> gradient_accumulation(const Facts& f) {
  const double peak = f.classification.gpu.peak_memory_fraction;
  if (f.steps.count == 0 || peak < kGpuMemoryNearLimit) return std::nullopt;
  RuleFiring r;
  r.impact = peak;
  r.evidence = {ev("gpu_peak_memory_fraction", peak, "ratio"), ev("steps", static_cast<double>(f.steps.count), "count")};
  r.values = {{"peak", format_percent(peak)}};
  return r;
}

std::optional<RuleFiring> mixed_precision(const Facts& f) {
  const GpuClass& g = f.classification.gpu;
  if (f.steps.count == 0 || !g.available || g.mean_utilization < kGpuLowUtilization || has_mixed_precision(f))
    return std::nullopt;
  RuleFiring r;
  r.impact = g.mean_utilization / 100.0 * 0.5;
  r.evidence = {ev("gpu_mean_utilization", g.mean_utilization, "percent"), ev("mixed_precision_operations", 0.0, "count"),
                ev("steps", static_cast<double>(f.steps.count), "count")};
  r.values = {{"utilization", format_number(g.mean_utilization, 0) + " %"}};
  return r;
}

std::optional<RuleFiring> ddp_over_dataparallel(const Facts& f) {
  std::vector<const GpuUsage*> measured;
  for (const GpuUsage& g : f.gpus)
    if (g.mean_utilization >= 0.0) measured.push_back(&g);
  if (measured.size() < 2 || f.snapshot.run.world_size > 1) return std::nullopt;
  auto [lo, hi] = std::minmax_element(measured.begin(), measured.end(), [](const GpuUsage* a, const GpuUsage* b) {
    return a->mean_utilization < b->mean_utilization;
  });
  const double gap = (*hi)->mean_utilization - (*lo)->mean_utilization;
  if (gap < kGpuImbalancePoints) return std::nullopt;
  RuleFiring r;
  r.impact = gap / 100.0;
  r.evidence = {ev("gpus", static_cast<double>(measured.size()), "count"),
                ev("gpu" + std::to_string((*hi)->index) + "_utilization", (*hi)->mean_utilization, "percent"),
                ev("gpu" + std::to_string((*lo)->index) + "_utilization", (*lo)->mean_utilization, "percent"),
                ev("world_size", f.snapshot.run.world_size, "count")};
  r.values = {{"gpus", std::to_string(measured.size())}, {"busy", format_number((*hi)->mean_utilization, 0) + " %"},
              {"idle", format_number((*lo)->mean_utilization, 0) + " %"}};
  return r;
}

// Share of step time (plus the category's own time outside steps) in one training-side category.
std::optional<RuleFiring> training_overhead(const Facts& f, Category c, double threshold) {
  const auto ops = f.in_category(c);
  if (ops.empty() || f.steps.count == 0) return std::nullopt;
  const double t = f.category_total_s(c);
  const double base = f.steps.iteration_s() + t;
  const double share = base > 0.0 ? t / base : 0.0;
  if (share < threshold) return std::nullopt;
  RuleFiring r;
  r.priority = share >= kLargeShare ? "medium" : "low";
  r.impact = share;
  r.evidence = {ev(std::string(to_string(c)) + "_share_of_training", share, "ratio"),
                ev("time", t, "s", ops.front()->op->name), ev("calls", static_cast<double>(ops.front()->op->count), "count", ops.front()->op->name),
                ev("steps", static_cast<double>(f.steps.count), "count")};
  r.values = {{"op", ops.front()->op->name}, {"share", format_percent(share)}, {"calls", format_count(ops.front()->op->count)},
              {"steps", format_count(f.steps.count)}, {"time", format_seconds(t)}};
  return r;
}

std::optional<RuleFiring> lr_scheduling(const Facts& f) { return training_overhead(f, Category::LrScheduling, kSmallShare); }
std::optional<RuleFiring> early_stopping(const Facts& f) { return training_overhead(f, Category::EarlyStopping, kNoticeableShare); }

// ---------------------------------------------------------------- system

std::optional<RuleFiring> gpu_idle(const Facts& f) {
  const GpuClass& g = f.classification.gpu;
  if (!g.available || g.source.empty() || g.idle_share < kGpuIdleShare) return std::nullopt;
  RuleFiring r;
  r.priority = g.idle_share >= 0.5 ? "high" : "medium";
  r.impact = g.idle_share;
  r.evidence = {ev("gpu_idle_share", g.idle_share, "ratio"), ev("gpu_mean_utilization", g.mean_utilization, "percent")};
  const InputPipelineClass& in = f.classification.input;
  const bool input = in.level == "highly" || in.level == "moderately";
  if (input) r.evidence.push_back(ev("input_share_of_step_time", in.input_share, "ratio"));
  r.values = {{"idle", format_percent(g.idle_share)},
              {"source", g.source},
              {"cause", input ? "the steps wait for input (" + format_percent(in.input_share) +
                                    " of step time): fix the input pipeline first (input-bound-workers, input-prefetch)"
                              : "the host does not keep it fed: overlap host work with device work (non_blocking copies, "
                                "pinned memory), launch fewer, larger kernels (bigger batches, CUDA graphs, torch.compile)"}};
  return r;
}

std::optional<RuleFiring> gpu_low_utilization(const Facts& f) {
  const GpuClass& g = f.classification.gpu;
  if (!g.available || g.source.empty() || g.mean_utilization >= kGpuLowUtilization || g.idle_share >= kGpuIdleShare)
    return std::nullopt;
  RuleFiring r;
  r.impact = 1.0 - g.mean_utilization / 100.0;
  r.evidence = {ev("gpu_mean_utilization", g.mean_utilization, "percent"), ev("gpu_idle_share", g.idle_share, "ratio")};
  r.values = {{"utilization", format_number(g.mean_utilization, 0) + " %"}};
  return r;
}

std::optional<RuleFiring> gpu_memory_near_limit(const Facts& f) {
  const GpuUsage* worst = nullptr;
  for (const GpuUsage& g : f.gpus)
    if (g.peak_memory_fraction >= kGpuMemoryNearLimit && (!worst || g.peak_memory_fraction > worst->peak_memory_fraction))
      worst = &g;
  if (!worst) return std::nullopt;
  RuleFiring r;
  r.impact = worst->peak_memory_fraction;
  r.evidence = {ev("gpu" + std::to_string(worst->index) + "_peak_memory", static_cast<double>(worst->peak_memory_bytes), "bytes"),
                ev("gpu" + std::to_string(worst->index) + "_memory_total", static_cast<double>(worst->memory_total_bytes), "bytes"),
                ev("gpu_peak_memory_fraction", worst->peak_memory_fraction, "ratio")};
  r.values = {{"gpu", std::to_string(worst->index)}, {"peak", format_bytes(static_cast<double>(worst->peak_memory_bytes))},
              {"total", format_bytes(static_cast<double>(worst->memory_total_bytes))},
              {"fraction", format_percent(worst->peak_memory_fraction)}};
  return r;
}

std::optional<RuleFiring> memory_leak_suspected(const Facts& f) {
  const Trend* op_trend = nullptr;
  const Trend* rss_trend = nullptr;
  for (const Trend& t : f.trends) {
    if (t.kind != "memory_growth") continue;
    if (t.method.rfind("Theil-Sen", 0) == 0) {
      if (!rss_trend) rss_trend = &t;
    } else if (!op_trend) {
      op_trend = &t;
    }
  }
  if (!op_trend && !rss_trend) return std::nullopt;
  RuleFiring r;
  const bool rss_per_step = rss_trend && rss_trend->method.find("against steps") != std::string::npos;
  const std::string per = op_trend ? (f.steps.count > 0 ? "per step" : "per call") : (rss_per_step ? "per step" : "per second");
  std::string op;
  double total = 0.0;
  if (op_trend) {
    op = op_trend->operation;
    const OperationFacts* o = f.operation(op);
    const double balance = o && o->alloc_balance_bytes ? *o->alloc_balance_bytes : o && o->rss_delta_bytes ? *o->rss_delta_bytes : 0.0;
    total = balance;
    r.evidence.push_back(ev(f.steps.count > 0 ? "retained_bytes_per_step" : "retained_bytes_per_call", op_trend->magnitude, "bytes", op));
    r.evidence.push_back(ev("retained_bytes", balance, "bytes", op));
  }
  if (rss_trend) {
    if (op.empty()) op = rss_trend->operation;
    r.evidence.push_back(ev(rss_per_step ? "rss_growth_per_step" : "rss_growth_per_second", rss_trend->magnitude, "bytes"));
    total = std::max(total, rss_trend->magnitude * (rss_per_step ? static_cast<double>(f.steps.count) : f.wall_s));
  }
  r.priority = (rss_trend && op_trend) || total >= kLargeLeakBytes ? "high" : "medium";
  r.impact = 0.5;
  const Trend& lead = op_trend ? *op_trend : *rss_trend;
  r.values = {{"op", op.empty() ? "the process" : op},
              {"rate", format_bytes(lead.magnitude) + " " + per},
              {"description", lead.description}};
  return r;
}

std::optional<RuleFiring> slowdown_detected(const Facts& f) {
  for (const Trend& t : f.trends) {
    if (t.kind != "slowdown") continue;  // largest ratio first
    const OperationFacts* o = f.operation(t.operation);
    const double share = o ? o->self_share : 0.0;
    RuleFiring r;  // medium: the cause is open, and load from other processes can be one
    r.impact = share;
    r.evidence = {ev("late_over_early_duration", t.magnitude, "factor", t.operation), ev("onset", t.at_s, "s", t.operation),
                  ev("self_time_share", share, "ratio", t.operation)};
    r.values = {{"op", t.operation}, {"ratio", format_number(t.magnitude, 2) + "x"}, {"at", format_seconds(t.at_s)},
                {"description", t.description}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> latency_spikes(const Facts& f) {
  std::vector<const Trend*> spikes;
  for (const Trend& t : f.trends)
    if (t.kind == "spike") spikes.push_back(&t);
  if (spikes.empty()) return std::nullopt;
  const Trend& worst = *spikes.front();  // largest ratio first
  RuleFiring r;
  // Medium for a stall a user notices: >= 10x the p99 and >= 10 ms lost in one call.
  const OperationFacts* o = f.operation(worst.operation);
  const double p99_s = o ? ns_to_s(static_cast<double>(o->op->p99_ns)) : 0.0;
  const double lost_s = p99_s * (worst.magnitude - 1.0);
  r.priority = worst.magnitude >= 10.0 && lost_s >= 10e-3 ? "medium" : "low";
  r.impact = 0.0;
  std::string when;
  for (std::size_t i = 0; i < spikes.size() && i < 3; ++i) {
    r.evidence.push_back(ev("spike_over_p99", spikes[i]->magnitude, "factor", spikes[i]->operation));
    when += (when.empty() ? "" : ", ") + format_seconds(spikes[i]->at_s);
  }
  r.evidence.push_back(ev("spikes", static_cast<double>(spikes.size()), "count"));
  r.values = {{"op", worst.operation}, {"count", std::to_string(spikes.size())}, {"when", when}, {"description", worst.description}};
  return r;
}

std::optional<RuleFiring> lock_contention(const Facts& f) {
  if (f.contended.empty()) return std::nullopt;
  const ContendedOperation& c = f.contended.front();
  const OperationFacts* o = f.operation(c.operation_id);
  if (!o) return std::nullopt;
  RuleFiring r;
  r.priority = c.efficiency_measured && c.waiting_share >= kLargeShare ? "high" : c.waiting_share >= kSmallShare ? "medium" : "low";
  r.impact = c.waiting_share;
  r.evidence = {ev("threads", static_cast<double>(c.threads), "count", o->op->name),
                ev("calls_in_flight", c.concurrency, "count", o->op->name),
                ev(c.efficiency_measured ? "waiting_fraction" : "waiting_fraction_estimated", c.wait_fraction, "ratio", o->op->name),
                ev("mean_over_fastest_call", c.mean_over_min, "factor", o->op->name),
                ev("waiting_share_of_thread_time", c.waiting_share, "ratio", o->op->name)};
  r.values = {{"op", o->op->name}, {"threads", std::to_string(c.threads)}, {"wait", format_percent(c.wait_fraction)},
              {"mean", format_seconds(o->mean_s)}, {"min", format_seconds(static_cast<double>(o->op->min_ns) * 1e-9)},
              {"inflight", format_number(c.concurrency, 1)}};
  return r;
}

std::optional<RuleFiring> io_bound(const Facts& f) {
  const OperationFacts* best = nullptr;
  for (const auto& o : f.operations) {
    const double bytes = o.io_read_bytes.value_or(0.0) + o.io_write_bytes.value_or(0.0);
    if (bytes < kMinIoBytes || o.self_share < kSmallShare) continue;
    const bool waiting = o.cpu_efficiency ? *o.cpu_efficiency < kWaitingCpu
                                          : o.op->category == Category::Io && o.self_share >= kLargeShare;
    if (waiting && (!best || o.self_share > best->self_share)) best = &o;
  }
  if (!best) return std::nullopt;
  const double bytes = best->io_read_bytes.value_or(0.0) + best->io_write_bytes.value_or(0.0);
  RuleFiring r;
  r.priority = best->self_share >= 0.30 ? "high" : "medium";
  r.impact = best->self_share;
  r.evidence = {ev("io_bytes", bytes, "bytes", best->op->name), ev("throughput", best->total_s > 0 ? bytes / best->total_s : 0.0, "bytes_per_s", best->op->name),
                ev("self_time_share", best->self_share, "ratio", best->op->name)};
  if (best->cpu_efficiency) r.evidence.push_back(ev("cpu_efficiency", *best->cpu_efficiency, "ratio", best->op->name));
  r.values = {{"op", best->op->name}, {"bytes", format_bytes(bytes)}, {"time", format_seconds(best->total_s)},
              {"rate", format_bytes(best->total_s > 0 ? bytes / best->total_s : 0.0) + "/s"},
              {"share", format_percent(best->self_share)}};
  return r;
}

std::optional<RuleFiring> cpu_waiting(const Facts& f) {
  for (const auto& name : f.classification.cpu.waiting_operations) {  // largest self share first
    const OperationFacts* o = f.operation(name);
    if (!o || !o->cpu_efficiency || *o->cpu_efficiency >= kMostlyWaitingCpu || o->self_share < kNoticeableShare) continue;
    if (o->io_read_bytes.value_or(0.0) + o->io_write_bytes.value_or(0.0) >= kMinIoBytes) continue;  // io-bound
    bool contended = false;
    for (const auto& c : f.contended) contended = contended || c.operation_id == o->op->id;
    if (contended) continue;
    RuleFiring r;
    r.impact = o->self_share * (1.0 - *o->cpu_efficiency);
    r.evidence = {ev("cpu_efficiency", *o->cpu_efficiency, "ratio", o->op->name), ev("self_time_share", o->self_share, "ratio", o->op->name),
                  ev("mean_duration", o->mean_s, "s", o->op->name)};
    r.values = {{"op", o->op->name}, {"efficiency", format_percent(*o->cpu_efficiency)}, {"share", format_percent(o->self_share)},
                {"waiting", format_seconds(o->total_s * (1.0 - *o->cpu_efficiency))}};
    return r;
  }
  return std::nullopt;
}

std::optional<RuleFiring> high_context_switches(const Facts& f) {
  const auto rate = involuntary_switches_per_second(f.snapshot);
  const int hw = hardware_threads(f);
  if (!rate || *rate < kSwitchesPerHwThread * hw) return std::nullopt;
  RuleFiring r;
  r.evidence = {ev("involuntary_context_switches", *rate, "per_s"), ev("hardware_threads", hw, "count")};
  std::size_t busy_threads = 0;
  for (const ThreadStats& t : f.snapshot.threads)
    if (f.wall_s > 0 && ns_to_s(static_cast<double>(t.top_level_ns)) >= 0.5 * f.wall_s) ++busy_threads;
  r.evidence.push_back(ev("busy_profiled_threads", static_cast<double>(busy_threads), "count"));
  r.values = {{"rate", format_number(*rate, 0)}, {"hw", std::to_string(hw)}, {"busy", std::to_string(busy_threads)}};
  return r;
}

std::optional<RuleFiring> excessive_synchronization(const Facts& f) {
  if (f.snapshot.sync_ns <= 0) return std::nullopt;
  const double sync_s = ns_to_s(static_cast<double>(f.snapshot.sync_ns));
  const double base = f.steps.count > 0 ? f.steps.step_time_s : f.wall_s;
  const double share = base > 0.0 ? sync_s / base : 0.0;
  if (share < kSyncShare) return std::nullopt;
  RuleFiring r;
  r.priority = share >= 0.30 ? "high" : "medium";
  r.impact = share;
  r.evidence = {ev("synchronization_time", sync_s, "s"), ev(f.steps.count > 0 ? "share_of_step_time" : "share_of_wall_time", share, "ratio")};
  r.values = {{"time", format_seconds(sync_s)}, {"share", format_percent(share)}};
  return r;
}

std::optional<RuleFiring> profiler_events_dropped(const Facts& f) {
  const std::uint64_t dropped = f.snapshot.events_dropped;
  if (dropped == 0) return std::nullopt;
  const double all = static_cast<double>(dropped + f.snapshot.events_recorded);
  const double share = all > 0 ? static_cast<double>(dropped) / all : 1.0;
  RuleFiring r;
  r.priority = share >= 0.01 ? "medium" : "low";
  r.evidence = {ev("events_dropped", static_cast<double>(dropped), "count"), ev("dropped_share", share, "ratio")};
  r.values = {{"dropped", format_count(dropped)}, {"share", format_percent(share)},
              {"buffer", std::to_string(f.config.buffer_events * 4)}};
  return r;
}

// ---------------------------------------------------------------- the catalogue

const std::vector<Rule> kRules = {
    // data loading
    {"input-bound-workers", "data_loading", "high", "Steps wait for input: load in {workers} parallel workers",
     "TensorFlow input-pipeline analyzer: input >= 20 % of step time highly, >= 5 % moderately input-bound",
     "Load batches in {workers} parallel workers (now {current}; e.g. torch DataLoader(num_workers={workers}) or a "
     "thread pool feeding a queue): {op} takes {input} per step against {compute} of compute, so {workers} workers "
     "keep pace; {efficiency}.",
     input_bound_workers},
    {"input-prefetch", "data_loading", "high", "Loading runs in series with the steps: prefetch batches",
     "TensorFlow input-pipeline analyzer (>= 5 % of step time on input); prefetch depth from the loader's p95/mean",
     "Overlap loading with compute: produce batches on a background thread and keep {depth} batches ready "
     "(DataLoader(prefetch_factor={depth}, pin_memory=True), tf.data .prefetch({depth})); now {on_thread} of {op} "
     "runs on the training thread and adds {input} to every step ({compute} of compute).",
     input_prefetch},
    {"data-loading-cache", "data_loading", "medium", "{op} reads the data again during training: cache it",
     ">= 1 MiB read by a data_loading/io operation (io probe, else the io_read_bytes_per_s timeline) that still "
     "reads in the second half of training (>= 20 % of its calls)",
     "Cache the data after the first pass: {op} read {total}{passes} in {calls} calls taking {time}, and "
     "{late} of its calls came in the second half of training (from the {source}), so each pass reads it again. "
     "Keep the parsed examples in memory when they fit, or write them once to a fast local cache (tf.data "
     ".cache(), a memory-mapped tensor file).",
     data_loading_cache},
    {"batch-size-small", "data_loading", "medium", "Steps are dominated by per-step work: raise the batch size",
     "work that does not grow with the batch takes >= 13.3 % of the steps, so a 4x larger batch cuts the time per "
     "sample by >= 10 % (the rules' noticeable share); PyTorch performance tuning guide: use the largest batch "
     "that fits",
     "Raise the batch size about {factor}x{batch}: {share} of the step time ({steps} steps, median {median}) is "
     "work that does not grow with the batch ({parts}), so a {factor}x batch spreads it over {factor}x the samples "
     "and saves about {saving} of the time per sample. Scale the learning rate with the batch (linear scaling "
     "rule) or keep the effective batch with gradient accumulation.",
     batch_size_small},
    // preprocessing
    {"preprocessing-vectorize", "preprocessing", "medium", "{op} takes {share} of the run: vectorise it",
     "self time >= 10 % of the run (high from 30 % unless off the critical path), >= 10 calls, not asleep (CPU efficiency >= 5 % when measured)",
     "Replace the per-element loop in {op} with bulk operations: it spends {self} ({share} of the run), {mean} per "
     "call over {calls} calls, and {efficiency}. Process whole strings or batches at once (lookup tables, "
     "string_view scanning, one regex pass, tensor ops) instead of one character or item at a time.",
     preprocessing_vectorize},
    {"preprocessing-parallelize", "preprocessing", "medium", "Parallelise preprocessing across cores",
     "preprocessing >= 20 % of the run on one thread with >= 2 hardware threads",
     "Run {op} and the other preprocessing stages on {workers} more threads (of {hw} hardware threads), e.g. in the "
     "loader workers or a thread pool over items: it takes {share} of the run on a single thread.",
     preprocessing_parallelize},
    {"preprocessing-memory-reuse", "preprocessing", "low", "Reuse buffers in {op}",
     ">= 100 allocations or >= 1 MiB allocated per call, in an operation with >= 5 % of the run (allocation probe)",
     "Reuse buffers across calls of {op} (reserve once, clear() instead of reallocating, preallocated tensors): "
     "it makes {allocs} allocations ({bytes}) per call and takes {share} of the run.",
     preprocessing_memory_reuse},
    {"pipeline-streamline", "preprocessing", "low", "Fuse {count} tiny preprocessing stages",
     ">= 3 preprocessing stages of >= 1000 calls under 100 us each, >= 10 % of the run together",
     "Fuse the per-item stages {stages} into one pass over each item (or batch them): each call is tiny, so call "
     "and hand-off overhead is a large part of their {share} of the run.",
     pipeline_streamline},
    // model inference
    {"inference-quantize", "model_inference", "medium", "Quantise the model for CPU inference",
     "inference >= 20 % of the run on the CPU only, not asleep (CPU efficiency >= 5 % when measured)",
     "Quantise {op} to int8 (torch.ao.quantization.quantize_dynamic for Linear/LSTM layers, ONNX Runtime "
     "quantisation): CPU inference takes {share} of the run at {mean} per call.",
     inference_quantize},
    {"inference-prune", "model_inference", "medium", "Shrink the model: {op} exceeds its latency threshold",
     "mean inference duration >= the model_inference warning threshold (default 2 s)",
     "Make {op} cheaper: its mean {mean} is over the {warning} warning threshold. Prune or distil the model "
     "(torch.nn.utils.prune, a smaller student), or lower the input resolution/sequence length.",
     inference_prune},
    {"inference-compile", "model_inference", "low", "Compile the model to cut per-call overhead",
     ">= 100 inference calls taking >= 10 % of the run",
     "Compile {op} (torch.compile, TorchScript + freeze, or ONNX Runtime/TensorRT): {calls} calls take {share} of "
     "the run, and graph compilation removes per-call dispatch and fuses operators.",
     inference_compile},
    {"inference-batching", "model_inference", "medium", "Batch inference requests",
     ">= 100 inference calls under 10 ms each taking >= 10 % of the run",
     "Group inputs into batches before calling {op}: {calls} calls of {mean} each take {share} of the run; one "
     "batched call amortises dispatch and uses vector units and the GPU far better.",
     inference_batching},
    {"inference-mixed-precision", "model_inference", "low", "Run GPU inference in reduced precision",
     "GPU in use, inference >= 10 % of the run, no mixed_precision scopes recorded",
     "Run inference under torch.autocast (float16/bfloat16) or convert the model to half precision: it takes "
     "{share} of the run in full precision on the GPU.",
     inference_mixed_precision},
    {"inference-memory", "model_inference", "medium", "Reduce inference memory in {op}",
     ">= 256 MiB of device-memory growth or allocation peak per call, or device memory >= 90 % in an inference run",
     "Cut the memory {op} needs ({memory}): run it under torch.inference_mode(), free intermediate tensors, use "
     "smaller batches or half precision, and release cached blocks between phases.",
     inference_memory},
    // training loop
    {"gradient-accumulation", "gradient_accumulation", "medium", "Device memory is full: accumulate gradients",
     "device memory peak >= 90 % of its total during training",
     "Halve the micro-batch and accumulate gradients over 2 micro-batches (scale the loss by 1/2, step the "
     "optimizer every 2nd backward): device memory peaked at {peak} of its total, and the effective batch stays "
     "the same.",
     gradient_accumulation},
    {"mixed-precision", "mixed_precision", "medium", "Train with mixed precision",
     "GPU utilisation >= 50 % (the GPU bounds the step), no mixed_precision scopes recorded",
     "Train under torch.autocast with a GradScaler (float16) or in bfloat16: the GPU is busy ({utilization} mean "
     "utilisation) in full precision; tensor cores run reduced precision several times faster.",
     mixed_precision},
    {"ddp-over-dataparallel", "multi_gpu", "medium", "Use DistributedDataParallel across the {gpus} GPUs",
     ">= 2 GPUs in one process with utilisation differing by >= 30 points",
     "Replace DataParallel (one process driving {gpus} GPUs, utilisation {busy} vs {idle}) with "
     "DistributedDataParallel, one process per GPU (torchrun --nproc_per_node={gpus}); it avoids the replicate/"
     "gather on one device and the GIL.",
     ddp_over_dataparallel},
    {"lr-scheduling", "lr_scheduling", "low", "Learning-rate scheduling costs {share} of training",
     "lr_scheduling scopes >= 5 % of training time",
     "Make the scheduler step cheap or less frequent: {op} took {time} over {calls} calls ({share} of training, "
     "{steps} steps). Step per epoch where the schedule allows, and avoid recomputing or logging every step.",
     lr_scheduling},
    {"early-stopping", "early_stopping", "low", "Early-stopping checks cost {share} of training",
     "early_stopping scopes >= 10 % of training time",
     "Evaluate the stopping criterion less often or on a smaller validation subset: {op} took {time} over {calls} "
     "calls ({share} of training, {steps} steps).",
     early_stopping},
    // system
    {"gpu-idle", "system", "high", "The GPU is idle {idle} of the time",
     "GPU idle (utilisation < 5 % in a sample, or no kernel in a trace) >= 30 % of step time; Holistic Trace "
     "Analysis idle-time breakdown",
     "Keep the GPU fed: it was idle {idle} of the time ({source}); {cause}.", gpu_idle},
    {"gpu-low-utilization", "system", "medium", "GPU utilisation is low ({utilization})",
     "mean GPU utilisation < 50 % (codeprof's bound: below it the GPU waits more than it computes)",
     "Give the GPU more work per launch: larger batches, fused operators (torch.compile), CUDA graphs for small "
     "kernels, fewer host-device synchronisations; mean utilisation was {utilization}.",
     gpu_low_utilization},
    {"gpu-memory-near-limit", "system", "high", "GPU {gpu} memory is near its limit",
     "device memory used > 90 % of its total (codeprof's bound: under 10 % headroom for the caching allocator's peaks)",
     "Reduce device memory before it runs out: GPU {gpu} peaked at {peak} of {total} ({fraction}). Use smaller or "
     "accumulated batches, mixed precision, activation checkpointing, and free cached tensors.",
     gpu_memory_near_limit},
    {"memory-leak-suspected", "system", "high", "Memory grows steadily: leak suspected in {op}",
     "allocation balance >= 1 MiB and >= 1 KiB per call kept by the outermost scopes, or RSS rising with Kendall "
     "tau-b >= 0.6 by >= 16 MiB and >= 5 % after warm-up, still rising in the second half",
     "Find what {op} keeps: memory grows {rate} ({description}). Look for containers that only grow (history, "
     "caches without bounds), tensors kept with their graphs (loss instead of loss.item()), and objects captured "
     "across steps.",
     memory_leak_suspected},
    {"slowdown-detected", "system", "medium", "{op} slows down over the run ({ratio})",
     "median of window means in the last quarter >= 1.5x the first quarter, >= 75 % of late windows slower",
     "Find what accumulates in {op}: {description}. Typical causes are growing data structures, fragmentation, "
     "caches that stop fitting, thermal throttling or a leak.",
     slowdown_detected},
    {"latency-spikes", "system", "low", "{count} latency spikes, worst in {op}",
     "a call >= 3x its operation's p99 and >= 1 ms above it (>= 50 calls, p99 >= 100 us); medium from 10x and 10 ms lost",
     "Look at what happened at {when} into the run: {description}. Typical causes are garbage collection, page "
     "faults, checkpoint writes, other processes, or one-off lazy initialisation.",
     latency_spikes},
    {"lock-contention", "system", "high", "{threads} threads contend in {op}",
     ">= 2 threads, >= 20 calls, >= 1.1 calls in flight on average, mean >= 2x the fastest call and < 50 % CPU "
     "efficiency (or mean >= 3x the fastest without the CPU probe)",
     "Shorten or split the critical section in {op}: {threads} threads run it with {inflight} calls in flight, "
     "waiting {wait} of the time (mean {mean} vs fastest {min}). Hold the lock only around the shared update, "
     "shard the state per thread and merge, or use a lock-free queue.",
     lock_contention},
    {"io-bound", "io", "medium", "{op} waits on I/O",
     ">= 1 MiB of I/O, >= 5 % of the run, < 50 % CPU efficiency (io and cpu probes)",
     "Make I/O in {op} cheaper or overlap it: {bytes} in {time} ({rate}), {share} of the run mostly waiting. Read "
     "larger sequential blocks, read ahead asynchronously, keep data on local SSD or in memory, and compress less "
     "randomly accessed formats.",
     io_bound},
    {"cpu-waiting", "cpu", "medium", "{op} is mostly waiting, not computing",
     "CPU efficiency < 10 % in an operation with >= 10 % of the run, not I/O or lock bound",
     "Find what {op} waits for: only {efficiency} of its time is on the CPU, so {waiting} is spent blocked (sleep, "
     "network, a child process, a condition variable); make it asynchronous or overlap it with other work. It "
     "takes {share} of the run.",
     cpu_waiting},
    {"high-context-switches", "system", "low", "Threads are preempted often ({rate}/s)",
     ">= 100 involuntary context switches per second per hardware thread",
     "Use fewer busy threads than the {hw} hardware threads (set OMP_NUM_THREADS / torch.set_num_threads, loader "
     "workers) or move other load off the machine: {rate} involuntary switches per second, {busy} busy profiled "
     "threads.",
     high_context_switches},
    {"excessive-synchronization", "system", "medium", "Device synchronisation takes {share} of step time",
     "device synchronisation >= 10 % of step (or run) time; Holistic Trace Analysis cuda_sync",
     "Remove host-device synchronisation from the step ({time}, {share}): avoid .item(), .cpu(), print of tensors "
     "and torch.cuda.synchronize() in the loop; accumulate metrics on the device and read them once per epoch.",
     excessive_synchronization},
    {"profiler-events-dropped", "system", "low", "The profiler dropped {dropped} events",
     "any dropped event (buffers full); medium from 1 %",
     "Events were lost to full buffers ({dropped} events, {share} dropped). The live recorder keeps every "
     "statistic and loses only raw trace events (the Chrome trace misses them); reports of versions that "
     "aggregated in a collector have incomplete numbers. Raise buffer.events_per_thread (e.g. to {buffer}) or "
     "the collector frequency, or trace fewer, coarser scopes.",
     profiler_events_dropped},
};

}  // namespace

const std::vector<Rule>& rule_catalogue() {
  // The rules above, then those of each domain's file.
  static const std::vector<Rule> all = [] {
    std::vector<Rule> r = kRules;
    r.insert(r.end(), custom_metrics_rules().begin(), custom_metrics_rules().end());
    return r;
  }();
  return all;
}

std::string evidence_line(const std::vector<Evidence>& evidence) {
  std::string out;
  for (const Evidence& e : evidence) {
    std::string v;
    if (e.unit == "s") v = format_seconds(e.value);
    else if (e.unit == "ratio") v = format_percent(e.value);
    else if (e.unit == "factor") v = format_number(e.value, 2) + "x";
    else if (e.unit == "percent") v = format_number(e.value, 1) + " %";
    else if (e.unit == "bytes") v = format_bytes(e.value);
    else if (e.unit == "bytes_per_s") v = format_bytes(e.value) + "/s";
    else if (e.unit == "per_s") v = format_number(e.value, 1) + "/s";
    else if (e.unit == "count") v = format_number(e.value, e.value == std::floor(e.value) ? 0 : 1);
    else v = format_number(e.value, 3) + (e.unit.empty() ? "" : " " + e.unit);
    out += (out.empty() ? "" : "; ") + e.metric + " = " + v + (e.operation.empty() ? "" : " (" + e.operation + ")");
  }
  return out;
}

std::vector<Inconclusive> undecided_rules(const Facts& facts) {
  std::vector<Inconclusive> out;
  // batch-size-small, once there are steps at all (without steps, input_bound says so).
  if (facts.steps.count > 0 && facts.steps.count < kManyCalls)
    out.push_back({"batch-size-small", ">= " + std::to_string(kManyCalls) + " steps",
                   format_count(facts.steps.count) + " steps"});
  else if (facts.steps.count > 0 && !step_fixed_work(facts).measured)
    out.push_back({"batch-size-small",
                   "the optimizer's time in the steps (an operation of category gradient_accumulation or "
                   "lr_scheduling, or PyTorch's Optimizer.step#...)",
                   "none inside the " + format_count(facts.steps.count) + " steps"});
  return out;
}

std::vector<Recommendation> evaluate_rules(const Facts& facts) {
  struct Fired {
    Recommendation rec;
    double impact;
    std::size_t order;
  };
  std::vector<Fired> fired;
  const std::vector<Rule>& rules = rule_catalogue();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const Rule& rule = rules[i];
    std::optional<RuleFiring> f = rule.check(facts);
    if (!f || f->evidence.empty()) continue;  // no evidence, no recommendation
    Recommendation r;
    r.id = std::string(rule.id);
    r.type = std::string(rule.type);
    r.priority = f->priority.empty() ? std::string(rule.priority) : f->priority;
    r.title = render(rule.title, f->values);
    r.evidence = std::move(f->evidence);
    r.evidence_text = evidence_line(r.evidence);
    r.action = render(rule.action, f->values);
    fired.push_back({std::move(r), f->impact, i});
  }
  std::sort(fired.begin(), fired.end(), [](const Fired& a, const Fired& b) {
    const int pa = priority_rank(a.rec.priority), pb = priority_rank(b.rec.priority);
    if (pa != pb) return pa < pb;
    if (a.impact != b.impact) return a.impact > b.impact;
    return a.order < b.order;
  });
  std::vector<Recommendation> out;
  out.reserve(fired.size());
  for (auto& f : fired) out.push_back(std::move(f.rec));
  return out;
}

}  // namespace codeprof::analysis
