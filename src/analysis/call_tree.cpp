#include "analysis/call_tree.hpp"

#include <algorithm>

#include "analysis/operation_facts.hpp"

namespace codeprof::analysis {
namespace {
const std::vector<const CallEdge*> kNoEdges;
constexpr std::size_t kMaxEdgeVisits = 200000;  // bounds the walk on pathological recursive trees
}  // namespace

CallTree::CallTree(const Snapshot& snapshot) : snapshot_(snapshot) {
  for (const CallEdge& e : snapshot.call_tree) {
    children_[e.parent_id].push_back(&e);
    parents_[e.child_id].push_back(&e);
  }
}

const std::vector<const CallEdge*>& CallTree::children(std::uint32_t id) const {
  const auto it = children_.find(id);
  return it == children_.end() ? kNoEdges : it->second;
}

const std::vector<const CallEdge*>& CallTree::parents(std::uint32_t id) const {
  const auto it = parents_.find(id);
  return it == parents_.end() ? kNoEdges : it->second;
}

std::map<std::uint32_t, double> CallTree::time_under(std::uint32_t root,
                                                     const std::function<bool(std::uint32_t)>& stop) const {
  std::map<std::uint32_t, double> out;
  std::vector<std::uint32_t> path{root};
  std::size_t visits = 0;
  auto total_of = [&](std::uint32_t id) {
    const OperationStats* op = operation_by_id(snapshot_, id);
    return op ? static_cast<double>(op->total_ns) : 0.0;
  };
  // node_time_under: how much of `node`'s time lies under root along the current path.
  std::function<void(std::uint32_t, double)> walk = [&](std::uint32_t node, double node_time_under) {
    const double node_total = total_of(node);
    if (node_total <= 0.0) return;
    const double fraction = std::min(1.0, node_time_under / node_total);
    for (const CallEdge* e : children(node)) {
      if (++visits > kMaxEdgeVisits) return;
      if (std::find(path.begin(), path.end(), e->child_id) != path.end()) continue;
      const double t = static_cast<double>(e->total_ns) * fraction;
      if (t <= 0.0) continue;
      out[e->child_id] += t;
      if (stop(e->child_id)) continue;
      path.push_back(e->child_id);
      walk(e->child_id, t);
      path.pop_back();
    }
  };
  walk(root, total_of(root));
  return out;
}

}  // namespace codeprof::analysis
