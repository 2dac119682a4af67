// The Profiler facade: wires the core recorder, the probes and the sampler together, and hands
// Snapshots to analysis and the exporters.
#include "codeprof/profiler.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "analysis/analyze.hpp"
#include "api/dashboard_hook.hpp"
#include "codeprof/exporters.hpp"
#include "codeprof/version.hpp"
#include "core/fork_safety.hpp"
#include "core/recorder.hpp"
#include "metrics/probe_set.hpp"
#include "metrics/system_sampler.hpp"

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

// Registered for fork() after its recorder and sampler, so config_mutex (held around recorder
// calls) is taken before theirs.
struct Profiler::Impl final : core::ForkAware {
  explicit Impl(Config c)
      : config(std::move(c)),
        recorder(recorder_options(config)),
        probes(config),
        sampler(config, recorder.origin_steady_ns()),
        command(read_command_line()),
        host(host_name()) {
    core::register_fork_aware(this);
  }
  ~Impl() { core::unregister_fork_aware(this); }
  void before_fork() noexcept override { config_mutex.lock(); }
  void after_fork_parent() noexcept override { config_mutex.unlock(); }
  void after_fork_child() noexcept override { config_mutex.unlock(); }

  mutable std::mutex config_mutex;
  Config config;
  core::Recorder recorder;
  metrics::ProbeSet probes;
  metrics::SystemSampler sampler;
  std::string command;
  std::string host;
  std::vector<Unavailable> unavailable;  // facade-level (e.g. the dashboard)
  std::shared_ptr<void> dashboard;       // destroyed first (declared last)
};

Profiler::Profiler(Config config) {
  config.validate();
  impl_ = std::make_unique<Impl>(std::move(config));
  state_ = &impl_->recorder.state();
  if (impl_->probes.any()) {
    state_->hooks = impl_->probes.hooks();
    impl_->recorder.set_probe_categories(probe_categories(impl_->config));
  }
  if (impl_->config.sampler_enabled) impl_->sampler.start();
  if (impl_->config.dashboard_port != 0) {
    if (auto start = detail::dashboard_starter()) {
      try {
        impl_->dashboard = start(*this);
      } catch (const std::exception& e) {
        impl_->unavailable.push_back({"dashboard", e.what()});
      }
    } else {
      impl_->unavailable.push_back(
          {"dashboard", "dashboard.port is set but codeprof::dashboard is not linked into this program"});
    }
  }
}

Profiler::~Profiler() {
  impl_->dashboard.reset();
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
  // Fixed at construction: buffer sizes, sampler, probes, dashboard.
  next.buffer_events = old.buffer_events;
  next.collector_interval_us = old.collector_interval_us;
  next.sampler_enabled = old.sampler_enabled;
  next.sampler_interval_ms = old.sampler_interval_ms;
  next.timeline_capacity = old.timeline_capacity;
  next.metrics = old.metrics;
  next.dashboard_host = old.dashboard_host;
  next.dashboard_port = old.dashboard_port;
  next.dashboard_token = old.dashboard_token;
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

Snapshot Profiler::snapshot() const {
  Snapshot s;
  impl_->recorder.fill(s);
  const Config cfg = config();
  s.run.source = "live";
  s.run.host = impl_->host;
  s.run.pid = static_cast<std::int64_t>(::getpid());
  s.run.command = impl_->command;
  s.run.rank = cfg.rank;
  s.run.world_size = cfg.world_size;
  s.run.version = kVersion;
  s.run.hardware_threads = static_cast<int>(std::thread::hardware_concurrency());
  s.timelines = impl_->sampler.series();
  s.run.gpus = impl_->sampler.gpus();
  s.run.unavailable = impl_->probes.unavailable();
  for (auto& u : impl_->sampler.unavailable()) s.run.unavailable.push_back(std::move(u));
  for (const auto& u : impl_->unavailable) s.run.unavailable.push_back(u);
  return s;
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
  const std::string dir = directory.empty() ? cfg.output_dir : directory;
  std::vector<std::string> paths;
  for (const std::string& format : cfg.export_formats) paths.push_back(io::write_export(format, dir, s, f));
  return paths;
}

void Profiler::reset() {
  impl_->recorder.reset();
  impl_->sampler.reset(impl_->recorder.origin_steady_ns());
}

void Profiler::flush() const { impl_->recorder.flush(); }

// The default profiler is never destroyed; at process exit its sampler must stop before static
// destructors close what it reads (src/api/default_profiler.cpp).
namespace detail {
void stop_sampler_at_exit(Profiler& profiler);
void stop_sampler_at_exit(Profiler& profiler) { profiler.impl().sampler.stop(); }
}  // namespace detail

}  // namespace codeprof
