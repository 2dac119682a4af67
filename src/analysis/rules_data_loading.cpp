// Data-loading rules: the steps wait for input (workers, prefetch), data read again every pass
// (cache), and per-step work that a larger batch spreads out. docs/RULES.md documents each.
#include "analysis/rule_domains.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#include "analysis/rule_helpers.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// Reads of >= 20 % of a reader's calls in the second half of training: the data is read again,
// not once (codeprof's own; docs/RULES.md data-loading-cache).
constexpr double kMinLateReadShare = 0.2;
// Batch size: a step's cost is work that grows with the batch plus work that does not (the
// optimizer update, the scheduler, the loop's own code). With a share f of the latter, a k times
// larger batch cuts the time per sample by f * (1 - 1/k). The rule fires when a 4x larger batch
// would save a noticeable share (10 %, kNoticeableShare), i.e. f >= 0.10 / (1 - 1/4) = 13.3 %, and
// suggests the factor that brings f down to 5 % (kSmallShare).
constexpr double kBatchFactorProbe = 4.0;

// Input time share: from the steps when known, else data loading + preprocessing self time / wall.
struct InputShare {
  double share = 0.0;
  bool from_steps = false;
};
std::optional<InputShare> input_bound(const Facts& f) {
  const InputPipelineClass& in = f.classification.input;
  if (in.level == InputBound::Highly || in.level == InputBound::Moderately) return InputShare{in.input_share, true};
  if (in.level != InputBound::Unknown || f.wall_s <= 0.0) return std::nullopt;
  const double share =
      (f.category_self_s(Category::DataLoading) + f.category_self_s(Category::Preprocessing)) / f.wall_s;
  if (share < kHighlyInputBound) return std::nullopt;
  return InputShare{std::min(1.0, share), false};
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
  r.evidence = {ev(bound->from_steps ? "input_share_of_step_time" : "input_share_of_wall_time", bound->share, EvidenceUnit::Ratio),
                ev("input_wait_per_step", stall_s, EvidenceUnit::Seconds),
                ev("load_time_per_step", load_s, EvidenceUnit::Seconds, worker_op->op->name),
                ev("compute_time_per_step", compute_s, EvidenceUnit::Seconds),
                ev("loader_worker_threads", static_cast<double>(current), EvidenceUnit::Count),
                ev("hardware_threads", hw, EvidenceUnit::Count)};
  if (eff) r.evidence.push_back(ev("loader_cpu_efficiency", *eff, EvidenceUnit::Ratio, load->op->name));
  r.values = {{"workers", std::to_string(workers)},
              {"current", std::to_string(current)},
              {"share", common::format_percent(bound->share)},
              {"input", common::format_seconds(load_s)},
              {"compute", common::format_seconds(compute_s)},
              {"hw", std::to_string(hw)},
              {"op", worker_op->op->name},
              {"efficiency", eff ? "the loader is " + common::format_percent(*eff) + " CPU-busy, so " + std::to_string(workers) +
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
  r.evidence = {ev(bound->from_steps ? "input_share_of_step_time" : "input_share_of_wall_time", bound->share, EvidenceUnit::Ratio),
                ev("loading_on_step_thread", on_step_threads, EvidenceUnit::Ratio, load->op->name),
                ev("input_time_per_step", input_s, EvidenceUnit::Seconds, load->op->name),
                ev("compute_time_per_step", compute_s, EvidenceUnit::Seconds),
                ev("loader_p95_over_mean", jitter, EvidenceUnit::Factor, load->op->name)};
  r.values = {{"op", load->op->name},
              {"depth", std::to_string(depth)},
              {"input", common::format_seconds(input_s)},
              {"compute", common::format_seconds(compute_s)},
              {"on_thread", common::format_percent(on_step_threads)}};
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

// DataLoader worker processes (run metadata "loader_worker_processes", which the Python package's
// profile_dataloader sets) send their batches to the training loop through pipes, so the loop's
// own reads there are batches arriving, not data read again (the workers' reads are counted in
// the operations they record).
bool loader_worker_processes(const Facts& f) {
  const auto it = f.snapshot.run.metadata.find("loader_worker_processes");
  if (it == f.snapshot.run.metadata.end()) return false;
  try {
    return std::stod(it->second) > 0.0;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<RuleFiring> data_loading_cache(const Facts& f) {
  const std::int64_t span = f.steps.last_end_ns - f.steps.first_start_ns;
  if (f.steps.count == 0 || span <= 0) return std::nullopt;
  const std::int64_t mid = f.steps.first_start_ns + span / 2;
  const bool from_workers = loader_worker_processes(f);
  const ThreadTimes times(f.snapshot);
  // A reading operation that still reads in the second half of training: a cache would have
  // stopped the reads after the first pass.
  const OperationFacts* reader = nullptr;
  double late_share = 0.0;
  for (const auto& o : f.operations) {
    const Category c = o.op->category;
    if (c != Category::DataLoading && c != Category::Io) continue;
    if (!o.io_read_bytes || *o.io_read_bytes < kMinIoBytes || o.op->count < 2) continue;
    // The loop's wait for the next batch (data_loading on the steps' threads) reads the pipes.
    if (from_workers && c == Category::DataLoading && times.fraction_on(o.op->id, f.steps.step_threads) >= 0.5) continue;
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
             !from_workers && io && io->values.size() >= 8 && io->t_ns.size() == io->values.size()) {
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
  r.evidence = {ev("bytes_read", read_bytes, EvidenceUnit::Bytes, reader->op->name),
                ev("calls_in_second_half_of_training", late_share, EvidenceUnit::Ratio, reader->op->name),
                ev("read_time", reader->total_s, EvidenceUnit::Seconds, reader->op->name),
                ev("calls", static_cast<double>(reader->op->count), EvidenceUnit::Count, reader->op->name)};
  std::string passes;
  if (f.steps.passes >= 2 && f.steps.pass_operation) {
    r.evidence.push_back(ev("passes", static_cast<double>(f.steps.passes), EvidenceUnit::Count));
    passes = " over " + common::format_count(f.steps.passes) + " passes (" + common::format_bytes(read_bytes / static_cast<double>(f.steps.passes)) +
             " per pass)";
  }
  r.values = {{"op", reader->op->name},
              {"total", common::format_bytes(read_bytes)},
              {"passes", passes},
              {"late", common::format_percent(late_share)},
              {"time", common::format_seconds(reader->total_s)},
              {"calls", common::format_count(reader->op->count)},
              {"source", source}};
  return r;
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
  r.evidence = {ev("fixed_work_share_of_step", share, EvidenceUnit::Ratio),
                ev("fixed_work_per_step", fixed.seconds / static_cast<double>(f.steps.count), EvidenceUnit::Seconds),
                ev("steps", static_cast<double>(f.steps.count), EvidenceUnit::Count),
                ev("median_step_time", f.steps.median_step_s, EvidenceUnit::Seconds)};
  std::string batch;
  if (const auto it = f.snapshot.run.metadata.find("batch_size"); it != f.snapshot.run.metadata.end()) {
    try {
      const double b = std::stod(it->second);
      r.evidence.push_back(ev("batch_size", b, EvidenceUnit::Count));
      batch = " (from " + common::format_number(b, 0) + " to about " + common::format_number(b * factor, 0) + ")";
    } catch (const std::exception&) {
    }
  }
  std::string parts;
  for (std::size_t i = 0; i < fixed.parts.size() && i < 3; ++i) parts += (i ? ", " : "") + fixed.parts[i];
  r.values = {{"steps", common::format_count(f.steps.count)},
              {"median", common::format_seconds(f.steps.median_step_s)},
              {"share", common::format_percent(share)},
              {"parts", parts},
              {"batch", batch},
              {"saving", common::format_percent(share * (1.0 - 1.0 / factor))},
              {"factor", common::format_number(factor, 0)}};
  return r;
}

}  // namespace

const std::vector<Rule>& data_loading_rules() {
  static const std::vector<Rule> rules = {
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
     "reads in the second half of training (>= 20 % of its calls); with DataLoader worker processes, reads of a "
     "data_loading operation on the steps' threads are batches arriving through pipes and do not count",
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
  };
  return rules;
}

}  // namespace codeprof::analysis
