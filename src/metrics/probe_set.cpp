#include "metrics/probe_set.hpp"

#include <cstring>

#include "metrics/alloc_counters.hpp"
#include "metrics/gpu_runtime.hpp"
#include "metrics/net_counters.hpp"
#include "metrics/nvtx_ranges.hpp"
#include "metrics/proc_io_probe.hpp"
#include "metrics/rss_probe.hpp"
#include "metrics/site_cache.hpp"
#include "metrics/thread_cpu_probe.hpp"

namespace codeprof::metrics {
namespace {

// Where each probe keeps its entry reading in the scope's ProbeFrame.
enum Word : std::size_t {
  kCpu = 0,
  kRss = 1,
  kRchar = 2,
  kWchar = 3,
  kSyscr = 4,
  kSyscw = 5,
  kAllocBytes = 6,
  kAllocs = 7,
  kFreedBytes = 8,
  kFrees = 9,
  kLiveAtEntry = 10,
  kSavedPeak = 11,
  kGpuMem = 12,
  kGpuStartEvent = 13,
  kFlags = 15,  // which entry readings succeeded
  kNetSent = 16,
  kNetRecv = 17,
  kNetCalls = 18,
  kNetBlocked = 19,
};

enum Flag : std::int64_t {
  kHasCpu = 1 << 0,
  kHasRss = 1 << 1,
  kHasIo = 1 << 2,
  kHasAlloc = 1 << 3,
  kHasGpuMem = 1 << 4,
  kHasGpuEvent = 1 << 5,
  kPushedNvtx = 1 << 6,
  kHasNet = 1 << 7,
};

static_assert(std::tuple_size_v<decltype(ProbeFrame{}.words)> == 20, "frame layout assumes 20 words");

}  // namespace

struct ProbeSet::Impl {
  bool cpu = false;
  bool rss = false;
  bool alloc = false;
  bool io = false;
  bool gpu_memory = false;
  bool gpu_timing = false;
  bool nvtx = false;
  bool network = false;
  RssProbe rss_probe;  // opens /proc/self/statm once
  const Nvml* nvml = nullptr;
  const CudaRuntime* cuda = nullptr;
  std::vector<Unavailable> unavailable;

  explicit Impl(const Config::Metrics& m) {
    if (m.cpu) {
      cpu = thread_cpu_ns() >= 0;
      if (!cpu) unavailable.push_back({"cpu_time", "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed"});
    }
    if (m.memory) {
      rss = rss_probe.available();
      if (!rss) unavailable.push_back({"rss", rss_probe.unavailable_reason()});
      alloc = alloc_counters_linked();
      if (!alloc) unavailable.push_back({"allocation_counters", kAllocNotLinkedReason});
    }
    if (m.io) {
      const std::string why = thread_io_unavailable_reason();
      io = why.empty();
      if (!io) unavailable.push_back({"io", why});
    }
    if (m.gpu) {
      const Nvml& n = Nvml::instance();
      gpu_memory = n.available();
      if (gpu_memory)
        nvml = &n;
      else
        unavailable.push_back({"gpu_memory", n.unavailable_reason()});
    }
    if (m.gpu_timing) {
      const CudaRuntime& c = CudaRuntime::instance();
      gpu_timing = c.available();
      if (gpu_timing)
        cuda = &c;
      else
        unavailable.push_back({"gpu_timing", c.unavailable_reason()});
    }
    if (m.network) {
      network = net_counters_linked();
      if (!network) unavailable.push_back({"network", kNetNotLinkedReason});
    }
    if (m.nvtx) {
      const std::string why = nvtx_unavailable_reason();
      nvtx = why.empty();
      if (!nvtx) unavailable.push_back({"nvtx", why});
    }
  }

  static void begin(void* context, std::uint32_t id, ProbeFrame& frame) noexcept {
    const Impl& s = *static_cast<const Impl*>(context);
    auto& w = frame.words;
    std::int64_t flags = 0;
    if (s.nvtx) {
      nvtx_push(id);
      flags |= kPushedNvtx;
    }
    if (s.gpu_memory) {
      w[kGpuMem] = s.nvml->memory_used_bytes();
      if (w[kGpuMem] >= 0) flags |= kHasGpuMem;
    }
    if (s.io) {
      IoCounters io;
      if (read_thread_io(io)) {
        w[kRchar] = io.rchar;
        w[kWchar] = io.wchar;
        w[kSyscr] = io.syscr;
        w[kSyscw] = io.syscw;
        flags |= kHasIo;
      }
    }
    if (s.rss) {
      w[kRss] = s.rss_probe.rss_bytes();
      if (w[kRss] >= 0) flags |= kHasRss;
    }
    if (s.alloc) {
      if (AllocCounters* c = thread_alloc_counters()) {
        w[kAllocBytes] = c->allocated_bytes;
        w[kAllocs] = c->allocations;
        w[kFreedBytes] = c->freed_bytes;
        w[kFrees] = c->frees;
        w[kLiveAtEntry] = c->live_bytes;
        // Start a fresh peak for this scope; end() folds it back into the enclosing one.
        w[kSavedPeak] = c->peak_live_bytes;
        c->peak_live_bytes = c->live_bytes;
        flags |= kHasAlloc;
      }
    }
    if (s.network) {
      if (const NetCounters* c = thread_net_counters()) {
        w[kNetSent] = c->sent_bytes;
        w[kNetRecv] = c->recv_bytes;
        w[kNetCalls] = c->calls;
        w[kNetBlocked] = c->blocked_ns;
        flags |= kHasNet;
      }
    }
    if (s.gpu_timing) {
      const CachedSite* site = nullptr;
      try {
        site = cached_site(id);
      } catch (...) {
      }
      if (site && site->category == Category::Gpu) {
        void* ev = s.cuda->record_event();
        std::memcpy(&w[kGpuStartEvent], &ev, sizeof ev);
        if (ev) flags |= kHasGpuEvent;
      }
    }
    // Last, so that the reading is as close as possible to the scope's start timestamp.
    if (s.cpu) {
      w[kCpu] = thread_cpu_ns();
      if (w[kCpu] >= 0) flags |= kHasCpu;
    }
    w[kFlags] = flags;
  }

  static void end(void* context, std::uint32_t, const ProbeFrame& frame, ProbeDeltas& out) noexcept {
    const Impl& s = *static_cast<const Impl*>(context);
    const auto& w = frame.words;
    const std::int64_t flags = w[kFlags];
    if (flags & kHasCpu) {
      const std::int64_t now = thread_cpu_ns();
      if (now >= 0) out.set(ProbeMetric::CpuTimeNs, now - w[kCpu]);
    }
    if (flags & kHasGpuEvent) {
      void* start = nullptr;
      std::memcpy(&start, &w[kGpuStartEvent], sizeof start);
      const std::int64_t ns = s.cuda->elapsed_ns_and_destroy(start, s.cuda->record_event());
      if (ns >= 0) out.set(ProbeMetric::GpuTimeNs, ns);
    }
    if (flags & kHasAlloc) {
      if (AllocCounters* c = thread_alloc_counters()) {
        out.set(ProbeMetric::AllocBytes, c->allocated_bytes - w[kAllocBytes]);
        out.set(ProbeMetric::AllocCount, c->allocations - w[kAllocs]);
        out.set(ProbeMetric::FreeBytes, c->freed_bytes - w[kFreedBytes]);
        out.set(ProbeMetric::FreeCount, c->frees - w[kFrees]);
        const std::int64_t peak = c->peak_live_bytes;
        out.set(ProbeMetric::AllocPeakBytes, peak > w[kLiveAtEntry] ? peak - w[kLiveAtEntry] : 0);
        if (w[kSavedPeak] > peak) c->peak_live_bytes = w[kSavedPeak];
      }
    }
    if (flags & kHasNet) {
      if (const NetCounters* c = thread_net_counters()) {
        out.set(ProbeMetric::NetSentBytes, c->sent_bytes - w[kNetSent]);
        out.set(ProbeMetric::NetRecvBytes, c->recv_bytes - w[kNetRecv]);
        out.set(ProbeMetric::NetCalls, c->calls - w[kNetCalls]);
        out.set(ProbeMetric::NetBlockedNs, c->blocked_ns - w[kNetBlocked]);
      }
    }
    if (flags & kHasRss) {
      const std::int64_t now = s.rss_probe.rss_bytes();
      if (now >= 0) out.set(ProbeMetric::RssDeltaBytes, now - w[kRss]);
    }
    if (flags & kHasIo) {
      IoCounters io;
      if (read_thread_io(io)) {
        out.set(ProbeMetric::IoReadBytes, io.rchar - w[kRchar]);
        out.set(ProbeMetric::IoWriteBytes, io.wchar - w[kWchar]);
        out.set(ProbeMetric::IoReadCalls, io.syscr - w[kSyscr]);
        out.set(ProbeMetric::IoWriteCalls, io.syscw - w[kSyscw]);
      }
    }
    if (flags & kHasGpuMem) {
      const std::int64_t now = s.nvml->memory_used_bytes();
      if (now >= 0) out.set(ProbeMetric::GpuMemDeltaBytes, now - w[kGpuMem]);
    }
    if (flags & kPushedNvtx) nvtx_pop();
  }

  bool any() const noexcept { return cpu || rss || alloc || io || gpu_memory || gpu_timing || nvtx || network; }
};

ProbeSet::ProbeSet(const Config& config) : impl_(std::make_unique<Impl>(config.metrics)) {}
ProbeSet::~ProbeSet() = default;

ProbeHooks ProbeSet::hooks() noexcept {
  ProbeHooks h;
  h.context = impl_.get();
  h.begin = &Impl::begin;
  h.end = &Impl::end;
  return h;
}

bool ProbeSet::any() const noexcept { return impl_->any(); }

std::vector<Unavailable> ProbeSet::unavailable() const { return impl_->unavailable; }

}  // namespace codeprof::metrics
