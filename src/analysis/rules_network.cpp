// network-bound: an operation that spends most of its time blocked in socket calls (the network
// probe's net_blocked_ns against the duration of the calls that measured it).
#include <algorithm>
#include <cmath>

#include "analysis/rule_domains.hpp"
#include "analysis/rule_helpers.hpp"
#include "common/number_format.hpp"

namespace codeprof::analysis {
namespace {

// Amdahl's law (Amdahl 1967): when a share b of an operation is spent waiting on the network, work
// on the rest can make it at most 1/b times faster. From b = 0.5 on, that is at most 2x: the
// transfers, not the code, set the pace. (The same 50 % as kWaitingCpu, where the io-bound and
// lock rules count an operation as waiting.)
constexpr double kBlockedShare = 0.5;
// Only operations that matter to the run (kSmallShare, 5 % of the wall time); high priority from
// 30 %, as io-bound.
constexpr double kHighRunShare = 0.30;
// Requests in flight that keep the non-waiting part busy: one is processed while 1 / (1 - b) - 1
// others wait (Little's law with the wait share b). At most 10, boto3's default for concurrent
// S3 transfers (TransferConfig max_concurrency): past that the link's bandwidth, not the latency,
// is usually what limits, and more connections do not help.
constexpr int kMaxParallel = 10;

struct NetworkWait {
  const OperationFacts* o = nullptr;
  double blocked_share = 0.0;  // blocked time / duration of the measured calls
  double measured_s = 0.0;     // duration of the calls that measured it
  double run_share = 0.0;      // the operation's total time / wall time
};

std::optional<NetworkWait> most_network_bound(const Facts& f) {
  std::optional<NetworkWait> best;
  for (const OperationFacts& o : f.operations) {
    const ResourceStat& blocked = o.op->resource(ProbeMetric::NetBlockedNs);
    if (blocked.samples == 0 || o.op->mean_ns <= 0.0) continue;
    const double measured_ns = o.op->mean_ns * static_cast<double>(blocked.samples);
    const double share = std::min(1.0, static_cast<double>(blocked.total) / measured_ns);
    const double run_share = f.wall_s > 0.0 ? std::min(1.0, o.total_s / f.wall_s) : 0.0;
    if (share < kBlockedShare || run_share < kSmallShare) continue;
    if (!best || run_share * share > best->run_share * best->blocked_share)
      best = NetworkWait{&o, share, measured_ns * 1e-9, run_share};
  }
  return best;
}

std::optional<RuleFiring> network_bound(const Facts& f) {
  const auto w = most_network_bound(f);
  if (!w) return std::nullopt;
  const OperationStats& op = *w->o->op;
  const double recv = static_cast<double>(op.resource(ProbeMetric::NetRecvBytes).total);
  const double sent = static_cast<double>(op.resource(ProbeMetric::NetSentBytes).total);
  const double calls = static_cast<double>(op.resource(ProbeMetric::NetCalls).total);
  const double blocked_s = w->blocked_share * w->measured_s;
  const bool receiving = recv >= sent;
  const double bytes = receiving ? recv : sent;
  const double rate = w->measured_s > 0.0 ? bytes / w->measured_s : 0.0;
  const int parallel =
      std::clamp(static_cast<int>(std::ceil(1.0 / std::max(1e-9, 1.0 - w->blocked_share))), 2, kMaxParallel);

  RuleFiring r;
  r.priority = w->run_share >= kHighRunShare ? "high" : "medium";
  r.impact = w->run_share * w->blocked_share;
  r.evidence = {ev("network_blocked_share", w->blocked_share, EvidenceUnit::Ratio, op.name),
                ev(receiving ? "network_receive_rate" : "network_send_rate", rate, EvidenceUnit::BytesPerSecond, op.name),
                ev(receiving ? "network_received_bytes" : "network_sent_bytes", bytes, EvidenceUnit::Bytes, op.name),
                ev("network_calls", calls, EvidenceUnit::Count, op.name),
                ev("run_share", w->run_share, EvidenceUnit::Ratio, op.name)};
  if (w->o->cpu_efficiency) r.evidence.push_back(ev("cpu_efficiency", *w->o->cpu_efficiency, EvidenceUnit::Ratio, op.name));
  r.values = {{"op", op.name},
              {"blocked", common::format_percent(w->blocked_share)},
              {"blocked_time", common::format_seconds(blocked_s)},
              {"direction", receiving ? "receiving" : "sending"},
              {"rate", common::format_bytes(rate) + "/s"},
              {"bytes", common::format_bytes(bytes)},
              {"calls", common::format_count(static_cast<std::uint64_t>(calls))},
              {"share", common::format_percent(w->run_share)},
              {"parallel", std::to_string(parallel)}};
  return r;
}

const std::vector<Rule> kNetworkRules = {
    {"network-bound", "io", "medium", "{op} is network-bound: {blocked} of its time blocked in socket calls at {rate}",
     ">= 50 % of the operation's time blocked in socket calls or waits (network probe), so by Amdahl's law work on "
     "the rest can at most halve it; the operation takes >= 5 % of the run (high from 30 %)",
     "Overlap or enlarge the transfers in {op}: it spends {blocked} of its time ({blocked_time}) blocked on the "
     "network, {direction} {bytes} in {calls} socket calls at {rate}, and takes {share} of the run. Keep about "
     "{parallel} requests in flight (a thread pool or asyncio with several connections, DataLoader workers), "
     "prefetch the next item while the current one is processed, fetch larger ranges per request over kept-alive "
     "connections, or copy the data once to local disk or memory.",
     network_bound},
};

}  // namespace

const std::vector<Rule>& network_rules() { return kNetworkRules; }

}  // namespace codeprof::analysis
