#pragma once
// Facts about the JSON report shared by its writer and its reader (docs/REPORT_SCHEMA.md):
// the schema version, how times are converted to seconds, and how each probe metric is named
// and scaled in the report, the CSV and the Prometheus exposition.
#include <array>
#include <cstdint>
#include <string_view>

#include "codeprof/probe_metrics.hpp"

namespace codeprof::io {

// Bumped when a key changes meaning or disappears; adding keys keeps the version.
inline constexpr int kReportSchemaVersion = 1;

// Nanoseconds to the seconds written in reports. Values below 2^51 ns (26 days) convert back exactly.
constexpr double ns_to_seconds(double ns) noexcept { return ns / 1e9; }

// How a probe metric is exposed to Prometheus: a counter of its total (sums that never go
// negative), or a gauge of its total or of its maximum.
enum class PrometheusKind : std::uint8_t { CounterOfTotal, GaugeOfTotal, GaugeOfMax };

// How one probe metric appears outside the process.
struct ResourceMetricInfo {
  ProbeMetric metric;
  std::string_view key;     // report / CSV key, e.g. "cpu_time"
  std::string_view unit;    // unit after scaling: "s", "bytes", "count"
  double scale;             // report value = raw value * scale
  std::string_view prometheus_name;  // without the "codeprof_operation_" prefix
  PrometheusKind prometheus_kind;
  std::string_view help;
};

inline constexpr std::array<ResourceMetricInfo, kProbeMetricCount> kResourceMetrics = {{
    {ProbeMetric::CpuTimeNs, "cpu_time", "s", 1e-9, "cpu_seconds_total", PrometheusKind::CounterOfTotal,
     "Thread CPU time (user + system) spent inside the operation."},
    {ProbeMetric::AllocBytes, "alloc_bytes", "bytes", 1.0, "allocated_bytes_total", PrometheusKind::CounterOfTotal,
     "Bytes allocated inside the operation."},
    {ProbeMetric::AllocCount, "alloc_count", "count", 1.0, "allocations_total", PrometheusKind::CounterOfTotal,
     "Allocations made inside the operation."},
    {ProbeMetric::FreeBytes, "free_bytes", "bytes", 1.0, "freed_bytes_total", PrometheusKind::CounterOfTotal,
     "Bytes freed inside the operation."},
    {ProbeMetric::FreeCount, "free_count", "count", 1.0, "frees_total", PrometheusKind::CounterOfTotal,
     "Frees made inside the operation."},
    {ProbeMetric::AllocPeakBytes, "alloc_peak_bytes", "bytes", 1.0, "allocation_peak_bytes", PrometheusKind::GaugeOfMax,
     "Largest peak of live allocated bytes above the level at entry, over all calls."},
    {ProbeMetric::RssDeltaBytes, "rss_delta_bytes", "bytes", 1.0, "rss_growth_bytes", PrometheusKind::GaugeOfTotal,
     "Sum over calls of the resident set size change across the operation."},
    {ProbeMetric::IoReadBytes, "io_read_bytes", "bytes", 1.0, "read_bytes_total", PrometheusKind::CounterOfTotal,
     "Bytes read inside the operation."},
    {ProbeMetric::IoWriteBytes, "io_write_bytes", "bytes", 1.0, "written_bytes_total", PrometheusKind::CounterOfTotal,
     "Bytes written inside the operation."},
    {ProbeMetric::IoReadCalls, "io_read_calls", "count", 1.0, "read_syscalls_total", PrometheusKind::CounterOfTotal,
     "Read system calls made inside the operation."},
    {ProbeMetric::IoWriteCalls, "io_write_calls", "count", 1.0, "write_syscalls_total", PrometheusKind::CounterOfTotal,
     "Write system calls made inside the operation."},
    {ProbeMetric::GpuMemDeltaBytes, "gpu_mem_delta_bytes", "bytes", 1.0, "gpu_memory_growth_bytes", PrometheusKind::GaugeOfTotal,
     "Sum over calls of the device memory change across the operation."},
    {ProbeMetric::GpuTimeNs, "gpu_time", "s", 1e-9, "gpu_seconds_total", PrometheusKind::CounterOfTotal,
     "GPU time of the operation (CUDA events or kernel time from a trace)."},
    {ProbeMetric::NetSentBytes, "net_sent_bytes", "bytes", 1.0, "network_sent_bytes_total", PrometheusKind::CounterOfTotal,
     "Bytes sent on internet sockets inside the operation."},
    {ProbeMetric::NetRecvBytes, "net_recv_bytes", "bytes", 1.0, "network_received_bytes_total", PrometheusKind::CounterOfTotal,
     "Bytes received on internet sockets inside the operation."},
    {ProbeMetric::NetCalls, "net_calls", "count", 1.0, "network_calls_total", PrometheusKind::CounterOfTotal,
     "Socket transfer, connect and accept calls made inside the operation."},
    {ProbeMetric::NetBlockedNs, "net_blocked", "s", 1e-9, "network_blocked_seconds_total", PrometheusKind::CounterOfTotal,
     "Wall time inside socket calls and waits for socket readiness during the operation."},
}};

constexpr const ResourceMetricInfo& resource_info(ProbeMetric m) noexcept {
  return kResourceMetrics[index_of(m)];
}

}  // namespace codeprof::io

namespace codeprof::io {
constexpr bool resource_table_in_enum_order() noexcept {
  for (std::size_t i = 0; i < kResourceMetrics.size(); ++i)
    if (index_of(kResourceMetrics[i].metric) != i) return false;
  return true;
}
static_assert(resource_table_in_enum_order(), "kResourceMetrics must follow the ProbeMetric order");
}  // namespace codeprof::io
