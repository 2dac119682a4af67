#pragma once
// Socket I/O counters kept by the codeprof::net library (net_hooks.cpp), which interposes the C
// library's socket calls. The main library only declares the accessors weakly: when codeprof::net
// is neither linked nor preloaded they resolve to null and the network probe and the sampler's
// network series report themselves unavailable instead.
#include <cstdint>

namespace codeprof::metrics {

// Counted for sockets of the internet families (AF_INET, AF_INET6) only: Unix-domain sockets are
// local IPC (loader workers, codeprof's own process parts), not the network.
struct NetCounters {
  std::int64_t sent_bytes = 0;  // bytes the send/write family handed to the kernel (return values)
  std::int64_t recv_bytes = 0;  // bytes the recv/read family returned
  std::int64_t calls = 0;       // transfer calls, connect and accept (not readiness waits)
  std::int64_t blocked_ns = 0;  // wall time inside those calls and inside waits on such sockets
};

inline constexpr const char* kNetNotLinkedReason =
    "link codeprof::net (or preload libcodeprof_net.so) to count socket I/O";

}  // namespace codeprof::metrics

// The calling thread's counters, written only by that thread. Defined only in codeprof::net.
extern "C" codeprof::metrics::NetCounters* codeprof_net_thread_counters() noexcept __attribute__((weak));
// Sums over every thread of the process since it started (relaxed atomics inside).
extern "C" void codeprof_net_process_totals(codeprof::metrics::NetCounters* out) noexcept __attribute__((weak));

namespace codeprof::metrics {

// Null when codeprof::net is not in the process.
inline NetCounters* thread_net_counters() noexcept {
  return codeprof_net_thread_counters ? codeprof_net_thread_counters() : nullptr;
}
inline bool net_counters_linked() noexcept {
  return codeprof_net_thread_counters != nullptr && codeprof_net_process_totals != nullptr;
}
// False when codeprof::net is not in the process.
inline bool read_net_process_totals(NetCounters& out) noexcept {
  if (!codeprof_net_process_totals) return false;
  codeprof_net_process_totals(&out);
  return true;
}

}  // namespace codeprof::metrics
