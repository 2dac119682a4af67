#include "metrics/system_sampler.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/fork_safety.hpp"

#include "metrics/bounded_series.hpp"
#include "metrics/gpu_runtime.hpp"
#include "metrics/process_reader.hpp"
#include "metrics/thread_cpu_probe.hpp"

namespace codeprof::metrics {
namespace {

// Early in a run the sampler samples every 1/32 of the time elapsed (never more often than every
// 10 ms), until that reaches the configured interval: a run of a third of a second still gets
// about 32 samples, 8 of them after its first quarter, which is what the memory-growth
// detector's Theil-Sen slope and Kendall tau need (docs/RULES.md, memory-leak-suspected). From
// 3.2 s on (at 100 ms) the configured interval alone applies.
constexpr std::int64_t kEarlyFraction = 32;
constexpr std::int64_t kMinIntervalNs = 10'000'000;
// A sample asked for at a snapshot is skipped when the last one is this recent.
constexpr std::int64_t kMinOnDemandGapNs = 5'000'000;

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double per_second(std::int64_t delta, std::int64_t dt_ns) noexcept {
  return dt_ns > 0 ? static_cast<double>(delta) * 1e9 / static_cast<double>(dt_ns) : 0.0;
}

// Series indices of the process part, in the order they appear in snapshots.
enum ProcessSeries : std::size_t {
  kProcessCpu,
  kSystemCpu,
  kRss,
  kVm,
  kPageFaults,
  kMajorPageFaults,
  kVoluntary,
  kInvoluntary,
  kIoRead,
  kIoWrite,
  kStorageRead,
  kStorageWrite,
  kOpenFds,
  kThreads,
  kNetSent,
  kNetRecv,
  kProcessSeriesCount
};

struct GpuSeries {
  int device = 0;
  // Index into Impl::series, or -1 when NVML could not read that field.
  long utilization = -1, memory_used = -1, temperature = -1, power = -1;
};

}  // namespace

struct SystemSampler::Impl final : core::ForkAware {
  Impl(const Config& config, std::int64_t origin) : cfg(config), origin_ns(origin) {
    const std::size_t cap = config.timeline_capacity;
    const char* specs[kProcessSeriesCount][2] = {
        {"process_cpu_percent", "percent"},           // 100 = one core busy
        {"system_cpu_percent", "percent"},            // of all CPUs of the machine
        {"rss_bytes", "bytes"},
        {"vm_bytes", "bytes"},
        {"page_faults", "per_second"},                // minor + major
        {"major_page_faults", "per_second"},
        {"ctx_switches_voluntary", "per_second"},
        {"ctx_switches_involuntary", "per_second"},
        {"io_read_bytes_per_s", "bytes_per_second"},  // rchar: read() family, cache hits included
        {"io_write_bytes_per_s", "bytes_per_second"}, // wchar
        {"storage_read_bytes_per_s", "bytes_per_second"},   // read_bytes: from the block device
        {"storage_write_bytes_per_s", "bytes_per_second"},  // write_bytes: dirtied for writeback
        {"open_fds", "count"},
        {"threads", "count"},
        // codeprof::net's counters of the process's own internet sockets (all its threads)
        {"net_sent_bytes_per_s", "bytes_per_second"},
        {"net_recv_bytes_per_s", "bytes_per_second"},
    };
    for (const auto& s : specs) series.emplace_back(s[0], s[1], cap);
    core::register_fork_aware(this);
  }
  ~Impl() { core::unregister_fork_aware(this); }

  // fork(): the sampler thread does not exist in the child. The child keeps no samples of the
  // parent and samples nothing until start() is called again.
  void before_fork() noexcept override { mutex.lock(); }
  void after_fork_parent() noexcept override { mutex.unlock(); }
  void after_fork_child() noexcept override {
    mutex.unlock();
    std::construct_at(&thread);  // forget the handle: nothing to join here
    std::construct_at(&wake);    // the dead thread may be registered as a waiter
    stop_requested = true;
    for (auto& s : series) s.clear();
    own_cpu_ns = 0;
    samples_taken = 0;
  }

  Config cfg;
  std::mutex sample_mutex;   // one sample at a time (the thread's, or one asked for by a snapshot)
  mutable std::mutex mutex;  // guards everything below
  std::condition_variable wake;
  bool stop_requested = false;
  bool started_once = false;
  std::thread thread;
  std::int64_t origin_ns;
  std::vector<BoundedSeries> series;
  std::vector<bool> present = std::vector<bool>(kProcessSeriesCount, true);
  std::vector<GpuSeries> gpu_series;
  std::vector<Unavailable> unavailable;
  std::vector<GpuDeviceInfo> gpus;
  std::int64_t own_cpu_ns = 0;
  std::int64_t samples_taken = 0;
  std::int64_t cadence_origin_ns = 0;  // steady time of start() or the last reset(): early cadence
  std::int64_t last_sample_ns = 0;     // steady time of the last sample

  std::unique_ptr<ProcessReader> reader;  // created by start(): a sampler never started opens nothing
  ProcessReading previous;

  void setup_once() {
    reader = std::make_unique<ProcessReader>();
    for (const auto& [what, why] : reader->problems()) {
      unavailable.push_back({what, why});
      if (what == "rss_bytes") present[kRss] = present[kVm] = false;
      if (what == "threads") present[kThreads] = false;
      if (what == "open_fds") present[kOpenFds] = false;
      if (what == "io_rates")
        present[kIoRead] = present[kIoWrite] = present[kStorageRead] = present[kStorageWrite] = false;
      if (what == "system_cpu_percent") present[kSystemCpu] = false;
    }
    // /proc/self/net/dev would count the whole network namespace (every process of a container);
    // the interposer's counters are this process's own, so the series exist only with it (the
    // network probe, when switched on, says why it is missing).
    // No blocked-time series: servers (the dashboard among them) wait in accept and epoll by design,
    // so a process-wide share of waiting threads would say nothing; per operation it does.
    if (!net_counters_linked()) present[kNetSent] = present[kNetRecv] = false;
    const Nvml& nvml = Nvml::instance();
    if (!nvml.available()) {
      unavailable.push_back({"gpu_sampler", nvml.unavailable_reason()});
    } else {
      for (int d = 0; d < nvml.device_count(); ++d) {
        std::vector<std::string> errors;
        const NvmlDeviceReading r = nvml.read(d, &errors);
        const std::string prefix = "gpu" + std::to_string(d);
        for (const auto& e : errors) unavailable.push_back({prefix, "NVML " + e});
        GpuSeries g;
        g.device = d;
        const auto add = [&](bool ok, const char* suffix, const char* unit) -> long {
          if (!ok) return -1;
          series.emplace_back(prefix + suffix, unit, cfg.timeline_capacity);
          present.push_back(true);
          return static_cast<long>(series.size() - 1);
        };
        g.utilization = add(r.has_utilization, "_utilization_percent", "percent");
        g.memory_used = add(r.has_memory, "_memory_used_bytes", "bytes");
        g.temperature = add(r.has_temperature, "_temperature_celsius", "celsius");
        g.power = add(r.has_power, "_power_watts", "watts");
        gpu_series.push_back(g);
        gpus.push_back({d, nvml.device_name(d), r.memory_total_bytes});
      }
    }
  }

  // Levels only (RSS, VM, open fds, threads): rates need an interval. Taken at start and reset,
  // so that even the shortest run has a first point. Called with `mutex` held.
  void push_levels(const ProcessReading& r) {
    const std::int64_t t = r.steady_ns - origin_ns;
    if (present[kRss]) series[kRss].push(t, static_cast<double>(r.rss_bytes));
    if (present[kVm]) series[kVm].push(t, static_cast<double>(r.vm_bytes));
    if (present[kOpenFds]) series[kOpenFds].push(t, static_cast<double>(r.open_fds));
    if (present[kThreads]) series[kThreads].push(t, static_cast<double>(r.threads));
    last_sample_ns = r.steady_ns;
  }

  std::chrono::nanoseconds next_interval(std::int64_t now_ns) const {
    const std::int64_t configured = std::int64_t{cfg.sampler_interval_ms > 0 ? cfg.sampler_interval_ms : 1} * 1'000'000;
    const std::int64_t early = (now_ns - cadence_origin_ns) / kEarlyFraction;
    return std::chrono::nanoseconds(std::clamp(early, std::min(kMinIntervalNs, configured), configured));
  }

  // One sample: read outside the lock, then push under it.
  void sample() {
    std::lock_guard one_at_a_time(sample_mutex);
    const std::int64_t own_start = thread_cpu_ns();
    const ProcessReading now = reader->read();
    const ProcessReading& before = previous;
    const std::int64_t dt = now.steady_ns - before.steady_ns;
    double v[kProcessSeriesCount] = {};
    v[kProcessCpu] = dt > 0 ? 100.0 * static_cast<double>(now.cpu_ns - before.cpu_ns) / static_cast<double>(dt) : 0.0;
    const std::int64_t total = now.system_total_ticks - before.system_total_ticks;
    v[kSystemCpu] = total > 0 ? 100.0 * static_cast<double>(now.system_busy_ticks - before.system_busy_ticks) /
                                    static_cast<double>(total)
                              : 0.0;
    v[kRss] = static_cast<double>(now.rss_bytes);
    v[kVm] = static_cast<double>(now.vm_bytes);
    v[kPageFaults] = per_second(now.minor_faults + now.major_faults - before.minor_faults - before.major_faults, dt);
    v[kMajorPageFaults] = per_second(now.major_faults - before.major_faults, dt);
    v[kVoluntary] = per_second(now.voluntary_switches - before.voluntary_switches, dt);
    v[kInvoluntary] = per_second(now.involuntary_switches - before.involuntary_switches, dt);
    v[kIoRead] = per_second(now.io.rchar - before.io.rchar, dt);
    v[kIoWrite] = per_second(now.io.wchar - before.io.wchar, dt);
    v[kStorageRead] = per_second(now.io.read_bytes - before.io.read_bytes, dt);
    v[kStorageWrite] = per_second(now.io.write_bytes - before.io.write_bytes, dt);
    v[kOpenFds] = static_cast<double>(now.open_fds);
    v[kThreads] = static_cast<double>(now.threads);
    v[kNetSent] = per_second(now.net.sent_bytes - before.net.sent_bytes, dt);
    v[kNetRecv] = per_second(now.net.recv_bytes - before.net.recv_bytes, dt);

    const Nvml& nvml = Nvml::instance();
    std::vector<NvmlDeviceReading> gpu;
    gpu.reserve(gpu_series.size());
    for (const GpuSeries& g : gpu_series) gpu.push_back(nvml.read(g.device));

    std::lock_guard lock(mutex);
    const std::int64_t t = now.steady_ns - origin_ns;
    for (std::size_t i = 0; i < kProcessSeriesCount; ++i)
      if (present[i]) series[i].push(t, v[i]);
    for (std::size_t i = 0; i < gpu_series.size(); ++i) {
      const GpuSeries& g = gpu_series[i];
      const NvmlDeviceReading& r = gpu[i];
      // A field that fails now and then leaves a gap rather than a fake zero.
      if (g.utilization >= 0 && r.has_utilization) series[static_cast<std::size_t>(g.utilization)].push(t, r.utilization_percent);
      if (g.memory_used >= 0 && r.has_memory)
        series[static_cast<std::size_t>(g.memory_used)].push(t, static_cast<double>(r.memory_used_bytes));
      if (g.temperature >= 0 && r.has_temperature) series[static_cast<std::size_t>(g.temperature)].push(t, r.temperature_celsius);
      if (g.power >= 0 && r.has_power) series[static_cast<std::size_t>(g.power)].push(t, r.power_watts);
    }
    previous = now;
    last_sample_ns = now.steady_ns;
    own_cpu_ns += thread_cpu_ns() - own_start;
    ++samples_taken;
  }

  void run() {
    std::unique_lock lock(mutex);
    auto next = std::chrono::steady_clock::now() + next_interval(steady_now_ns());
    for (;;) {
      if (wake.wait_until(lock, next, [this] { return stop_requested; })) return;
      lock.unlock();
      try {
        sample();
      } catch (...) {
        // Out of memory while growing a ring: skip this sample, keep the thread alive.
      }
      lock.lock();
      // Steady cadence; after a stall, skip the missed ticks instead of sampling in a burst, and
      // after a late wake-up keep at least half an interval to the next sample.
      const auto interval = next_interval(steady_now_ns());
      next += interval;
      const auto now = std::chrono::steady_clock::now();
      if (next <= now) next = now + interval;
      else if (next - now < interval / 2) next = now + interval / 2;
    }
  }
};

SystemSampler::SystemSampler(const Config& config, std::int64_t origin_steady_ns)
    : impl_(std::make_unique<Impl>(config, origin_steady_ns)) {}

SystemSampler::~SystemSampler() { stop(); }

void SystemSampler::start() {
  std::unique_lock lock(impl_->mutex);
  if (impl_->thread.joinable()) return;
  if (!impl_->started_once) {
    impl_->setup_once();
    impl_->started_once = true;
  }
  lock.unlock();  // the lock order is sample_mutex, then mutex (as in sample())
  ProcessReading first;
  {
    std::lock_guard one_at_a_time(impl_->sample_mutex);
    impl_->previous = impl_->reader->read();  // baseline for the first rates
    first = impl_->previous;
  }
  lock.lock();
  if (impl_->thread.joinable()) return;
  impl_->cadence_origin_ns = first.steady_ns;
  impl_->push_levels(first);
  impl_->stop_requested = false;
  impl_->thread = std::thread([impl = impl_.get()] {
    ::pthread_setname_np(::pthread_self(), "codeprof-sample");
    impl->run();
  });
}

void SystemSampler::stop() {
  std::thread t;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop_requested = true;
    t = std::move(impl_->thread);
  }
  impl_->wake.notify_all();
  if (t.joinable()) t.join();
}

void SystemSampler::reset(std::int64_t origin_steady_ns) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->origin_ns = origin_steady_ns;
    for (auto& s : impl_->series) s.clear();
    if (!impl_->thread.joinable()) return;
    impl_->cadence_origin_ns = steady_now_ns();  // the statistics start again: so does the early cadence
  }
  ProcessReading levels;
  {
    std::lock_guard one_at_a_time(impl_->sample_mutex);
    levels = impl_->reader->read();
  }
  std::lock_guard lock(impl_->mutex);
  impl_->push_levels(levels);
}

void SystemSampler::sample_now() {
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->thread.joinable() || steady_now_ns() - impl_->last_sample_ns < kMinOnDemandGapNs) return;
  }
  try {
    impl_->sample();
  } catch (...) {
    // Out of memory while growing a ring: the snapshot goes without this sample.
  }
}

std::vector<TimelineSeries> SystemSampler::series() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<TimelineSeries> out;
  if (!impl_->started_once) return out;
  out.reserve(impl_->series.size());
  for (std::size_t i = 0; i < impl_->series.size(); ++i)
    if (impl_->present[i]) out.push_back(impl_->series[i].to_series());
  return out;
}

std::vector<Unavailable> SystemSampler::unavailable() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->unavailable;
}

std::vector<GpuDeviceInfo> SystemSampler::gpus() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->gpus;
}

std::int64_t SystemSampler::own_cpu_ns() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->own_cpu_ns;
}

std::int64_t SystemSampler::samples_taken() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->samples_taken;
}

}  // namespace codeprof::metrics
