#pragma once
// Turns the CPU slices of each thread, arriving in start order (longer first on ties), into the
// aggregator's completed events: a stack per thread gives each slice its parent and depth, and
// slices are fed when they end, children before their parent, as the aggregator needs for self
// time. GPU time launched inside a slice (through correlation ids) is added to it and to all its
// ancestors, and recorded as the ProbeMetric::GpuTimeNs resource of the calls that launched any.
// A slice that starts inside another but ends after it is treated as its child (clock jitter).
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "core/aggregator.hpp"

namespace codeprof::io::trace {

class NestingTooDeep : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CallNesting {
 public:
  static constexpr std::size_t kMaxDepth = 4096;

  CallNesting(core::Aggregator& aggregator, std::int64_t origin_ns) : agg_(aggregator), origin_(origin_ns) {}

  // `gpu_ns` >= 0: the slice launched GPU work of that duration; -1: it launched none.
  void add(std::uint32_t thread, std::uint32_t operation, std::int64_t start_ns, std::int64_t duration_ns,
           std::int64_t gpu_ns);
  void finish();  // completes every open slice

 private:
  struct Frame {
    std::uint32_t operation;
    std::int64_t start, end;
    std::int64_t gpu_ns;  // -1: none launched
  };
  void complete(std::uint32_t thread, std::vector<Frame>& stack);

  core::Aggregator& agg_;
  std::int64_t origin_;
  std::vector<std::vector<Frame>> stacks_;  // per thread index
  std::vector<std::int64_t> gpu_fed_;       // per operation: GPU time given to the aggregator
};

}  // namespace codeprof::io::trace
