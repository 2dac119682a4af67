#pragma once
// Navigation over the Snapshot's aggregated call tree (parent -> child edges with counts/times).
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "codeprof/snapshot.hpp"

namespace codeprof::analysis {

class CallTree {
 public:
  explicit CallTree(const Snapshot& snapshot);

  const std::vector<const CallEdge*>& children(std::uint32_t id) const;
  const std::vector<const CallEdge*>& parents(std::uint32_t id) const;

  // Nanoseconds of each operation's time that lies inside calls of `root`. Edges are aggregated
  // per parent, not per path, so an intermediate operation that also runs outside `root` passes
  // on only the share of its time that lies under `root` (an estimate when it is called from
  // several places). The walk does not descend below operations for which `stop` is true
  // (their own time is still counted), and never re-enters an operation already on its path.
  std::map<std::uint32_t, double> time_under(std::uint32_t root,
                                             const std::function<bool(std::uint32_t)>& stop) const;

 private:
  const Snapshot& snapshot_;
  std::map<std::uint32_t, std::vector<const CallEdge*>> children_;
  std::map<std::uint32_t, std::vector<const CallEdge*>> parents_;
};

}  // namespace codeprof::analysis
