#include "analysis/collectives.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_set>

namespace codeprof::analysis {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_nccl_kernel(const std::string& lowered) {
  return lowered.rfind("ncclkernel", 0) == 0 || lowered.rfind("nccldevkernel", 0) == 0;
}

}  // namespace

bool is_collective(const OperationStats& op) {
  if (op.category == Category::MultiGpu) return true;
  const std::string n = lower(op.name);
  if (n.rfind("nccl:", 0) == 0 || n.rfind("gloo:", 0) == 0 || n.rfind("c10d::", 0) == 0 || is_nccl_kernel(n))
    return true;
  static constexpr std::string_view kWords[] = {"allreduce", "all_reduce", "allgather", "all_gather", "reduce_scatter",
                                                "reducescatter", "alltoall", "all_to_all", "broadcast", "barrier"};
  return std::any_of(std::begin(kWords), std::end(kWords), [&](std::string_view w) { return n.find(w) != std::string::npos; });
}

double collective_seconds(const Snapshot& s) {
  std::unordered_set<std::uint32_t> cpu_side;
  double kernels_ns = 0;
  for (const auto& op : s.operations) {
    if (!is_collective(op)) continue;
    if (is_nccl_kernel(lower(op.name))) kernels_ns += static_cast<double>(op.total_ns);
    else cpu_side.insert(op.id);
  }
  double cpu_ns = 0;
  for (const auto& op : s.operations)
    if (cpu_side.count(op.id)) cpu_ns += static_cast<double>(op.total_ns);
  // Calls of a collective made inside another collective are already in the outer one's time.
  for (const auto& edge : s.call_tree)
    if (edge.parent_id != kRootOperation && cpu_side.count(edge.parent_id) && cpu_side.count(edge.child_id))
      cpu_ns -= static_cast<double>(edge.total_ns);
  return std::max(0.0, cpu_ns > 0 ? cpu_ns : kernels_ns) / 1e9;
}

}  // namespace codeprof::analysis
