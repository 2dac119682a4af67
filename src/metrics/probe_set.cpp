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
// Scoped by a struct: a unity batch may put this file next to system_sampler.cpp, which has
// its own kRss.
struct Word {
  enum : std::size_t {
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
      w[Word::kGpuMem] = s.nvml->memory_used_bytes();
      if (w[Word::kGpuMem] >= 0) flags |= kHasGpuMem;
    }
    if (s.io) {
      IoCounters io;
      if (read_thread_io(io)) {
        w[Word::kRchar] = io.rchar;
        w[Word::kWchar] = io.wchar;
        w[Word::kSyscr] = io.syscr;
        w[Word::kSyscw] = io.syscw;
        flags |= kHasIo;
      }
    }
    if (s.rss) {
      w[Word::kRss] = s.rss_probe.rss_bytes();
      if (w[Word::kRss] >= 0) flags |= kHasRss;
    }
    if (s.alloc) {
      if (AllocCounters* c = thread_alloc_counters()) {
        w[Word::kAllocBytes] = c->allocated_bytes;
        w[Word::kAllocs] = c->allocations;
        w[Word::kFreedBytes] = c->freed_bytes;
        w[Word::kFrees] = c->frees;
        w[Word::kLiveAtEntry] = c->live_bytes;
        // Start a fresh peak for this scope; end() folds it back into the enclosing one.
        w[Word::kSavedPeak] = c->peak_live_bytes;
        c->peak_live_bytes = c->live_bytes;
        flags |= kHasAlloc;
      }
    }
    if (s.network) {
      if (const NetCounters* c = thread_net_counters()) {
        w[Word::kNetSent] = c->sent_bytes;
        w[Word::kNetRecv] = c->recv_bytes;
        w[Word::kNetCalls] = c->calls;
        w[Word::kNetBlocked] = c->blocked_ns;
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
        std::memcpy(&w[Word::kGpuStartEvent], &ev, sizeof ev);
        if (ev) flags |= kHasGpuEvent;
      }
    }
    // Last, so that the reading is as close as possible to the scope's start timestamp.
    if (s.cpu) {
      w[Word::kCpu] = thread_cpu_ns();
      if (w[Word::kCpu] >= 0) flags |= kHasCpu;
    }
    w[Word::kFlags] = flags;
  }

  static void end(void* context, std::uint32_t, const ProbeFrame& frame, ProbeDeltas& out) noexcept {
    const Impl& s = *static_cast<const Impl*>(context);
    const auto& w = frame.words;
    const std::int64_t flags = w[Word::kFlags];
    if (flags & kHasCpu) {
      const std::int64_t now = thread_cpu_ns();
      if (now >= 0) out.set(ProbeMetric::CpuTimeNs, now - w[Word::kCpu]);
    }
    if (flags & kHasGpuEvent) {
      void* start = nullptr;
      std::memcpy(&start, &w[Word::kGpuStartEvent], sizeof start);
      const std::int64_t ns = s.cuda->elapsed_ns_and_destroy(start, s.cuda->record_event());
      if (ns >= 0) out.set(ProbeMetric::GpuTimeNs, ns);
    }
    if (flags & kHasAlloc) {
      if (AllocCounters* c = thread_alloc_counters()) {
        out.set(ProbeMetric::AllocBytes, c->allocated_bytes - w[Word::kAllocBytes]);
        out.set(ProbeMetric::AllocCount, c->allocations - w[Word::kAllocs]);
        out.set(ProbeMetric::FreeBytes, c->freed_bytes - w[Word::kFreedBytes]);
        out.set(ProbeMetric::FreeCount, c->frees - w[Word::kFrees]);
        const std::int64_t peak = c->peak_live_bytes;
        out.set(ProbeMetric::AllocPeakBytes, peak > w[Word::kLiveAtEntry] ? peak - w[Word::kLiveAtEntry] : 0);
        if (w[Word::kSavedPeak] > peak) c->peak_live_bytes = w[Word::kSavedPeak];
      }
    }
    if (flags & kHasNet) {
      if (const NetCounters* c = thread_net_counters()) {
        out.set(ProbeMetric::NetSentBytes, c->sent_bytes - w[Word::kNetSent]);
        out.set(ProbeMetric::NetRecvBytes, c->recv_bytes - w[Word::kNetRecv]);
        out.set(ProbeMetric::NetCalls, c->calls - w[Word::kNetCalls]);
        out.set(ProbeMetric::NetBlockedNs, c->blocked_ns - w[Word::kNetBlocked]);
      }
    }
    if (flags & kHasRss) {
      const std::int64_t now = s.rss_probe.rss_bytes();
      if (now >= 0) out.set(ProbeMetric::RssDeltaBytes, now - w[Word::kRss]);
    }
    if (flags & kHasIo) {
      IoCounters io;
      if (read_thread_io(io)) {
        out.set(ProbeMetric::IoReadBytes, io.rchar - w[Word::kRchar]);
        out.set(ProbeMetric::IoWriteBytes, io.wchar - w[Word::kWchar]);
        out.set(ProbeMetric::IoReadCalls, io.syscr - w[Word::kSyscr]);
        out.set(ProbeMetric::IoWriteCalls, io.syscw - w[Word::kSyscw]);
      }
    }
    if (flags & kHasGpuMem) {
      const std::int64_t now = s.nvml->memory_used_bytes();
      if (now >= 0) out.set(ProbeMetric::GpuMemDeltaBytes, now - w[Word::kGpuMem]);
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
