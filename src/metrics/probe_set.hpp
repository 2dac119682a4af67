#pragma once
// Per-operation resource probes (CPU time, allocations, RSS, I/O, GPU memory, GPU timing, NVTX),
// installed into a recorder as ProbeHooks. Each probe that cannot run reports why, once.
#include <cstdint>
#include <memory>
#include <vector>

#include "codeprof/config.hpp"
#include "codeprof/probe_metrics.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::metrics {

class ProbeSet {
 public:
  explicit ProbeSet(const Config& config);
  ~ProbeSet();
  ProbeSet(const ProbeSet&) = delete;
  ProbeSet& operator=(const ProbeSet&) = delete;

  // Hooks to install into RecorderState::hooks; context points at this ProbeSet.
  ProbeHooks hooks() noexcept;
  // Whether any metric will be measured (false: the recorder's probe mask stays 0).
  bool any() const noexcept;
  std::vector<Unavailable> unavailable() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace codeprof::metrics
