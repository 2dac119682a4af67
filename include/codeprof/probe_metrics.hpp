#pragma once
// The per-operation resource metrics that probes can attach to a scope's event.
// The core only carries and aggregates them; the metrics layer measures them.
#include <array>
#include <cstdint>
#include <string_view>

namespace codeprof {

enum class ProbeMetric : std::uint8_t {
  CpuTimeNs,          // thread CPU time (user + system) spent inside the scope
  AllocBytes,         // bytes allocated inside the scope (operator new / malloc hooks)
  AllocCount,         // allocations inside the scope
  FreeBytes,          // bytes freed inside the scope
  FreeCount,          // frees inside the scope
  AllocPeakBytes,     // peak of (allocated - freed) above the level at scope entry
  RssDeltaBytes,      // process resident set size after - before
  IoReadBytes,        // bytes read (storage layer, /proc/thread-self/io read_bytes + rchar)
  IoWriteBytes,       // bytes written
  IoReadCalls,        // read system calls
  IoWriteCalls,       // write system calls
  GpuMemDeltaBytes,   // device memory in use after - before
  GpuTimeNs,          // GPU time measured with CUDA events (or kernel time from a trace)
  NetSentBytes,       // bytes sent on internet sockets (codeprof::net)
  NetRecvBytes,       // bytes received on internet sockets
  NetCalls,           // socket transfer, connect and accept calls
  NetBlockedNs,       // wall time inside socket calls and waits for socket readiness
};

inline constexpr std::size_t kProbeMetricCount = 17;

inline constexpr std::array<std::string_view, kProbeMetricCount> kProbeMetricNames = {
    "cpu_time_ns",   "alloc_bytes",    "alloc_count",    "free_bytes",      "free_count",
    "alloc_peak_bytes", "rss_delta_bytes", "io_read_bytes", "io_write_bytes", "io_read_calls",
    "io_write_calls", "gpu_mem_delta_bytes", "gpu_time_ns", "net_sent_bytes", "net_recv_bytes", "net_calls",
    "net_blocked_ns"};

constexpr std::string_view to_string(ProbeMetric m) noexcept {
  return kProbeMetricNames[static_cast<std::size_t>(m)];
}
constexpr std::uint32_t metric_bit(ProbeMetric m) noexcept { return 1u << static_cast<unsigned>(m); }
constexpr std::size_t index_of(ProbeMetric m) noexcept { return static_cast<std::size_t>(m); }

// The deltas one scope measured. `valid` has metric_bit(m) set for each metric measured.
struct ProbeDeltas {
  std::uint32_t valid = 0;
  std::array<std::int64_t, kProbeMetricCount> values{};
  void set(ProbeMetric m, std::int64_t v) noexcept {
    values[index_of(m)] = v;
    valid |= metric_bit(m);
  }
  bool has(ProbeMetric m) const noexcept { return (valid & metric_bit(m)) != 0; }
  std::int64_t get(ProbeMetric m) const noexcept { return values[index_of(m)]; }

  bool operator==(const ProbeDeltas&) const = default;
};

// Per-scope scratch space that a probe fills at scope entry and reads at scope exit.
struct alignas(16) ProbeFrame {
  std::array<std::int64_t, 20> words{};
};

// Hooks the metrics layer installs into a recorder. Called on the user's thread at scope
// entry/exit, only for categories whose probes are on. Must not throw.
struct ProbeHooks {
  void* context = nullptr;
  void (*begin)(void* context, std::uint32_t operation_id, ProbeFrame& frame) noexcept = nullptr;
  void (*end)(void* context, std::uint32_t operation_id, const ProbeFrame& frame,
              ProbeDeltas& out) noexcept = nullptr;
};

}  // namespace codeprof
