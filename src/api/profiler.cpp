// The Profiler facade: wires the core recorder, the probes and the sampler together, and hands
// Snapshots to analysis and the exporters.
#include "codeprof/profiler.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "analysis/analyze.hpp"
#include "analysis/steps.hpp"
#include "api/alert_monitor.hpp"
#include "api/dashboard_hook.hpp"
#include "api/process_parts_hub.hpp"
#include "codeprof/exporters.hpp"
#include "codeprof/version.hpp"
#include "core/config_changes.hpp"
#include "core/fork_safety.hpp"
#include "core/metric_store.hpp"
#include "core/recorder.hpp"
#include "metrics/probe_set.hpp"
#include "metrics/system_sampler.hpp"
#include "metrics/alloc_sampling_hooks.hpp"
#include "sampling/alloc_sampler.hpp"
#include "sampling/cpu_sampler.hpp"
#include "sampling/sample_store.hpp"

namespace codeprof {
namespace {

core::RecorderOptions recorder_options(const Config& c) {
  core::RecorderOptions o;
  o.buffer_events = c.buffer_events;
  o.collector_interval_us = c.collector_interval_us;
  o.keep_trace = c.trace_enabled;
  o.trace_budget = c.trace_budget_events;
  o.trace_policy = c.trace_policy == "first" ? core::TracePolicy::First : core::TracePolicy::Last;
  o.trace_budget_bytes = c.trace_budget_bytes;
  o.enabled = c.enabled;
  o.category_mask = 0;
  for (std::size_t i = 0; i < kCategoryCount; ++i)
    if (c.category_enabled[i]) o.category_mask |= category_bit(static_cast<Category>(i));
  o.start_collector = false;  // after the CPU sampler (Profiler::Profiler)
  return o;
}

std::uint32_t probe_categories(const Config& c) {
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < kCategoryCount; ++i)
    if (c.metrics.categories[i]) mask |= category_bit(static_cast<Category>(i));
  return mask;
}

std::string read_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& ch : raw)
    if (ch == '\0') ch = ' ';
  while (!raw.empty() && raw.back() == ' ') raw.pop_back();
  return raw;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace

namespace {
std::atomic<bool> g_native_sampling_auto{true};  // set_native_sampling_auto()

bool native_sampling(const Config& c) {
  if (c.sampling_native == "auto") return g_native_sampling_auto.load(std::memory_order_relaxed);
  return c.sampling_native == "on";
}
}  // namespace

// Registered for fork() after its recorder and sampler, so config_mutex (held around recorder
// calls) is taken before theirs.
struct Profiler::Impl final : core::ForkAware {
  explicit Impl(Config c)
      : config(std::move(c)),
        recorder(recorder_options(config)),
        probes(config),
        sampler(config, recorder.origin_steady_ns()),
        samples(config.sampling.max_stacks),
        metrics(recorder.origin_steady_ns(), &recorder.state()),
        command(read_command_line()),
        host(host_name()) {
    core::register_fork_aware(this);
  }
  ~Impl() { core::unregister_fork_aware(this); }
  void before_fork() noexcept override {
    config_mutex.lock();
    notes_mutex.lock();
    parts_mutex.lock();
  }
  void after_fork_parent() noexcept override {
    parts_mutex.unlock();
    notes_mutex.unlock();
    config_mutex.unlock();
  }
  void after_fork_child() noexcept override {
    parts_mutex.unlock();
    notes_mutex.unlock();
    config_mutex.unlock();
  }

  mutable std::mutex config_mutex;
  Config config;
  core::Recorder recorder;
  metrics::ProbeSet probes;
  metrics::SystemSampler sampler;
  sampling::SampleStore samples;  // native and external stack samples
  core::MetricStore metrics;      // the program's counters, values and gauges
  std::unique_ptr<sampling::CpuSampler> cpu_sampler;  // when sampling.enabled
  std::unique_ptr<sampling::AllocSampler> alloc_sampler;  // when sampling.alloc_enabled
  std::string command;
  std::string host;
  mutable std::mutex notes_mutex;        // guards the two below
  std::vector<Unavailable> unavailable;  // facade-level (the dashboard) and the program's own notes
  std::map<std::string, std::string> metadata;  // the program's facts about the run
  std::mutex parts_mutex;                          // creating `parts`
  std::unique_ptr<detail::ProcessPartsHub> parts;  // other processes' statistics (process_channel())
  std::atomic<detail::ProcessPartsHub*> parts_ready{nullptr};  // read without the lock (fork-safe)
  std::unique_ptr<detail::AlertMonitor> alerts;  // reads snapshots: stopped before the parts above go
  std::shared_ptr<void> dashboard;       // destroyed first (declared last)
};

namespace {
static_assert(sampling::AllocSampler::kFilterBits == metrics::kAllocFilterBits);

// What codeprof::alloc's operator new and delete call when allocation sampling is on.
const metrics::AllocSamplingHooks& alloc_sampling_hooks() {
  static const metrics::AllocSamplingHooks hooks{&sampling::AllocSampler::on_sample, &sampling::AllocSampler::on_free,
                                                 sampling::AllocSampler::address_filter()};
  return hooks;
}

// The hub, once process_channel() opened it in this process (never destroyed before the profiler).
detail::ProcessPartsHub* parts_hub(Profiler::Impl& impl) {
  detail::ProcessPartsHub* hub = impl.parts_ready.load(std::memory_order_acquire);
  return hub && hub->owned_by_this_process() ? hub : nullptr;
}
}  // namespace

Profiler::Profiler(Config config) {
  config.validate();
  impl_ = std::make_unique<Impl>(std::move(config));
  state_ = &impl_->recorder.state();
  if (impl_->probes.any()) {
    state_->hooks = impl_->probes.hooks();
    impl_->recorder.set_probe_categories(probe_categories(impl_->config));
  }
  if (impl_->config.sampling.enabled && native_sampling(impl_->config)) {
    impl_->cpu_sampler = std::make_unique<sampling::CpuSampler>(
        impl_->config, *state_, impl_->samples, [impl = impl_.get()] { return impl->recorder.recording_threads(); });
    impl_->cpu_sampler->start();
  }
  // Started after the CPU sampler, the profiler's own threads inherit its per-CPU events: the
  // collector wakes every millisecond or so, and each switch between it and an inheriting thread
  // would otherwise stop and restart their timers (docs/PROBES.md). Their samples are skipped.
  impl_->recorder.revive_collector();
  if (impl_->config.sampler_enabled) impl_->sampler.start();
  if (impl_->config.sampling.alloc_enabled) {
    impl_->alloc_sampler = std::make_unique<sampling::AllocSampler>(impl_->config, *state_, impl_->recorder.origin_steady_ns(),
                                                                   metrics::alloc_sampling_linked());
    if (impl_->alloc_sampler->active())
      codeprof_alloc_set_sampling(&alloc_sampling_hooks(), impl_->alloc_sampler->interval_bytes());
  }
  if (impl_->config.alerts.enabled) {
    std::unique_ptr<detail::AlertSink> sink;
    if (!impl_->config.alerts.webhook_url.empty()) {
      if (auto make = detail::alert_sink_factory()) {
        try {
          sink = make(impl_->config);
        } catch (const std::exception& e) {
          impl_->unavailable.push_back({"alerts_webhook", e.what()});
        }
      } else {
        impl_->unavailable.push_back(
            {"alerts_webhook", "alerts.webhook.url is set but codeprof::dashboard (which sends it) is not linked into this program"});
      }
    }
    impl_->alerts = std::make_unique<detail::AlertMonitor>(*this, std::move(sink));
  }
  if (impl_->config.dashboard_port != 0) {
    if (auto start = detail::dashboard_starter()) {
      try {
        impl_->dashboard = start(*this);
      } catch (const std::exception& e) {
        add_unavailable("dashboard", e.what());
      }
    } else {
      add_unavailable("dashboard", "dashboard.port is set but codeprof::dashboard is not linked into this program");
    }
  }
  if (impl_->alerts) impl_->alerts->start();
}

Profiler::~Profiler() {
  impl_->dashboard.reset();
  // Join the monitor before anything it reads goes: its thread takes snapshots of this profiler.
  if (impl_->alerts) impl_->alerts->stop();
  impl_->alerts.reset();
  if (impl_->alloc_sampler) {  // before the recorder its hook reads
    if (impl_->alloc_sampler->active()) codeprof_alloc_set_sampling(nullptr, 0);
    impl_->alloc_sampler.reset();
  }
  if (impl_->cpu_sampler) impl_->cpu_sampler->stop();  // before the recorder its handler reads
  impl_->sampler.stop();
  // Members are destroyed in reverse order; the recorder's destructor drains every event.
}

void Profiler::set_enabled(bool on) {
  std::lock_guard lock(impl_->config_mutex);
  impl_->config.enabled = on;
  impl_->recorder.set_enabled(on);
}
bool Profiler::enabled() const { return impl_->recorder.enabled(); }

void Profiler::set_category_enabled(Category c, bool on) {
  std::lock_guard lock(impl_->config_mutex);
  impl_->config.category_enabled[index_of(c)] = on;
  impl_->recorder.set_category_enabled(c, on);
}
bool Profiler::category_enabled(Category c) const { return impl_->recorder.category_enabled(c); }

void Profiler::set_thresholds(Category c, Thresholds t) {
  std::lock_guard lock(impl_->config_mutex);
  Config copy = impl_->config;
  copy.thresholds[index_of(c)] = t;
  copy.validate();
  impl_->config = std::move(copy);
}

void Profiler::update_config(const Config& config) {
  config.validate();
  std::lock_guard lock(impl_->config_mutex);
  const Config old = impl_->config;
  Config next = config;
  // Fixed at construction: the keys the key table marks so (buffers, sampler, probes, dashboard,
  // the alert thread and its webhook, the node's rank, the job's name).
  core::keep_start_only_keys(next, old);
  impl_->config = next;
  impl_->recorder.set_enabled(next.enabled);
  for (std::size_t i = 0; i < kCategoryCount; ++i)
    impl_->recorder.set_category_enabled(static_cast<Category>(i), next.category_enabled[i]);
  if (next.trace_enabled != old.trace_enabled || next.trace_budget_events != old.trace_budget_events ||
      next.trace_policy != old.trace_policy || next.trace_budget_bytes != old.trace_budget_bytes) {
    const core::RecorderOptions o = recorder_options(next);
    impl_->recorder.set_trace(next.trace_enabled, core::TraceBudget{o.trace_policy, o.trace_budget, o.trace_budget_bytes});
  }
}

Config Profiler::config() const {
  std::lock_guard lock(impl_->config_mutex);
  return impl_->config;
}

void Profiler::set_thread_name(std::string name) { impl_->recorder.set_thread_name(std::move(name)); }

void Profiler::add_unavailable(std::string what, std::string reason) {
  std::lock_guard lock(impl_->notes_mutex);
  for (Unavailable& u : impl_->unavailable)
    if (u.what == what) {
      u.reason = std::move(reason);
      return;
    }
  impl_->unavailable.push_back({std::move(what), std::move(reason)});
}

void Profiler::set_metadata(std::string key, std::string value) {
  std::lock_guard lock(impl_->notes_mutex);
  impl_->metadata[std::move(key)] = std::move(value);
}

void Profiler::add_counter(std::string_view name, double n, std::string_view unit) noexcept {
  if (state_->active_mask.load(std::memory_order_relaxed) == 0) return;
  impl_->metrics.record(MetricKind::Counter, name, n, unit);
}

void Profiler::record_value(std::string_view name, double x, std::string_view unit) noexcept {
  if (state_->active_mask.load(std::memory_order_relaxed) == 0) return;
  impl_->metrics.record(MetricKind::Value, name, x, unit);
}

void Profiler::set_gauge(std::string_view name, double v, std::string_view unit) noexcept {
  if (state_->active_mask.load(std::memory_order_relaxed) == 0) return;
  impl_->metrics.record(MetricKind::Gauge, name, v, unit);
}

namespace {

// What Profiler::snapshot() gives; without the profile: no sampled stacks, hot code or sampling
// section (the alert monitor's evaluations read none of them, and building them each second
// costs a sampled run about as much as the sampler's store), and only the trace events the
// analysis reads (copying the whole raw trace each second was about 1 % of the demo's CPU).
Snapshot take_snapshot(Profiler::Impl& impl, const Config& cfg, bool with_profile,
                       std::vector<TraceEvent>* trace_buffer = nullptr) {
  impl.sampler.sample_now();  // the timelines reach the snapshot, however short the run
  Snapshot s;
  if (trace_buffer) {  // its memory, not its events: no page faults for a fresh copy of the trace
    s.trace_events = std::move(*trace_buffer);
    s.trace_events.clear();
  }
  impl.recorder.fill(s, with_profile ? kAllCategoriesMask : analysis::kTraceCategoriesRead);
  s.custom_metrics = impl.metrics.collect();
  s.run.source = "live";
  s.run.host = impl.host;
  s.run.pid = static_cast<std::int64_t>(::getpid());
  s.run.command = impl.command;
  s.run.rank = cfg.rank;
  s.run.world_size = cfg.world_size;
  s.run.local_rank = cfg.local_rank;
  s.run.job_name = cfg.job_name;
  s.run.version = kVersion;
  s.run.hardware_threads = static_cast<int>(std::thread::hardware_concurrency());
  s.timelines = impl.sampler.series();
  s.run.gpus = impl.sampler.gpus();
  s.run.unavailable = impl.probes.unavailable();
  for (auto& u : impl.sampler.unavailable()) s.run.unavailable.push_back(std::move(u));
  if (const std::uint64_t refused = impl.metrics.names_refused())
    s.run.unavailable.push_back({"custom_metrics", std::to_string(refused) + " calls ignored: more than " +
                                                       std::to_string(core::kMaxMetrics) + " distinct metric names"});
  {
    // A leaf lock: nothing else is taken while it is held (the fork handler takes every lock).
    std::lock_guard lock(impl.notes_mutex);
    for (const auto& u : impl.unavailable) s.run.unavailable.push_back(u);
    for (const auto& [key, value] : impl.metadata) s.run.metadata[key] = value;
  }
  if (!with_profile) {
    s.sampling.enabled = cfg.sampling.enabled;
    if (detail::ProcessPartsHub* parts = parts_hub(impl)) parts->merge_into(s);
    return s;
  }
  if (impl.cpu_sampler) {
    impl.cpu_sampler->flush();
    s.sampling.unavailable = impl.cpu_sampler->unavailable();
    if (impl.cpu_sampler->running()) s.sampling.unwinder = impl.cpu_sampler->unwinder();
    s.sampling.sampler_cpu_ns = impl.cpu_sampler->own_cpu_ns();
  }
  if (impl.alloc_sampler) {
    impl.alloc_sampler->publish(impl.samples);
    // Both samplers symbolise with their own symboliser: a module without debug information
    // is noted once.
    for (auto& u : impl.alloc_sampler->unavailable()) {
      const bool noted = std::any_of(s.sampling.unavailable.begin(), s.sampling.unavailable.end(),
                                     [&](const Unavailable& n) { return n.what == u.what && n.reason == u.reason; });
      if (!noted) s.sampling.unavailable.push_back(std::move(u));
    }
    if (impl.alloc_sampler->active()) s.sampling.unwinder = "libunwind";
  }
  impl.samples.fill(s, site_table());
  if (impl.alloc_sampler) impl.alloc_sampler->fill(s);
  s.sampling.enabled = cfg.sampling.enabled;
  for (const auto& u : s.sampling.unavailable) s.run.unavailable.push_back(u);
  if (detail::ProcessPartsHub* parts = parts_hub(impl)) parts->merge_into(s);
  if (impl.alerts) {
    s.alerts = impl.alerts->alerts();
    s.alert_delivery = impl.alerts->delivery();
  }
  return s;
}

}  // namespace

Snapshot Profiler::snapshot() const { return take_snapshot(*impl_, config(), true); }

Snapshot detail::snapshot_without_profile(Profiler& profiler, std::vector<TraceEvent>* trace_buffer) {
  return take_snapshot(profiler.impl(), profiler.config(), false, trace_buffer);
}

Findings Profiler::analyze() const { return analysis::analyze(snapshot(), config()); }

std::vector<Bottleneck> Profiler::get_bottlenecks(double threshold_seconds) const {
  return analysis::find_bottlenecks(snapshot(), config(), threshold_seconds);
}

std::vector<Recommendation> Profiler::get_performance_recommendations() const { return analyze().recommendations; }

std::string Profiler::export_profiling_data(const std::string& path) const {
  const Snapshot s = snapshot();
  const Findings f = analysis::analyze(s, config());
  return io::write_export("json", path.empty() ? config().output_dir : path, s, f);
}

std::vector<std::string> Profiler::export_all(const std::string& directory) const {
  const Config cfg = config();
  const Snapshot s = snapshot();
  const Findings f = analysis::analyze(s, cfg);
  return io::write_exports(cfg.export_formats, directory.empty() ? cfg.output_dir : directory, s, f);
}

void Profiler::add_samples(const SampleBatch& batch) { impl_->samples.add_external(batch); }

std::vector<detail::RecordingThread> Profiler::recording_threads() const { return impl_->recorder.recording_threads(); }

void set_native_sampling_auto(bool on) noexcept { g_native_sampling_auto.store(on, std::memory_order_relaxed); }

void Profiler::reset() {
  if (detail::ProcessPartsHub* parts = parts_hub(*impl_)) parts->reset();
  impl_->recorder.reset();
  impl_->metrics.reset();
  if (impl_->cpu_sampler) impl_->cpu_sampler->discard_pending();
  if (impl_->alloc_sampler) impl_->alloc_sampler->reset(impl_->recorder.origin_steady_ns());
  impl_->samples.reset();
  impl_->sampler.reset(impl_->recorder.origin_steady_ns());
}

void Profiler::flush() const { impl_->recorder.flush(); }

std::string Profiler::process_channel() {
  std::lock_guard lock(impl_->parts_mutex);
  if (!impl_->parts || !impl_->parts->owned_by_this_process()) {
    // In a fork()ed child the parent's hub is not ours: leave it alone (its thread never ran here).
    if (impl_->parts) (void)impl_->parts.release();
    impl_->parts = std::make_unique<detail::ProcessPartsHub>();
    impl_->parts_ready.store(impl_->parts.get(), std::memory_order_release);
  }
  return impl_->parts->address();
}

void Profiler::absorb_process_part(ProcessPart part) {
  process_channel();
  impl_->parts->absorb(std::move(part), {});
}

ProcessPartsStatus Profiler::process_parts_status() const {
  detail::ProcessPartsHub* parts = parts_hub(*impl_);
  return parts ? parts->status() : ProcessPartsStatus{};
}

// The default profiler is never destroyed; at process exit its sampler must stop before static
// destructors close what it reads (src/api/default_profiler.cpp).
namespace detail {
void stop_sampler_at_exit(Profiler& profiler);
void stop_sampler_at_exit(Profiler& profiler) { profiler.impl().sampler.stop(); }
}  // namespace detail

void detail::stop_alert_monitor(Profiler& profiler) {
  if (profiler.impl().alerts) profiler.impl().alerts->stop();
}

}  // namespace codeprof
