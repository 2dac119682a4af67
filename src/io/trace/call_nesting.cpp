#include "io/trace/call_nesting.hpp"

#include <algorithm>
#include <string>

#include "io/trace/event_fields.hpp"

namespace codeprof::io::trace {

void CallNesting::complete(std::uint32_t thread, std::vector<Frame>& stack) {
  const Frame f = stack.back();
  stack.pop_back();
  core::CompletedEvent e;
  e.operation_id = f.operation;
  e.parent_id = stack.empty() ? kRootOperation : stack.back().operation;
  e.thread_index = thread;
  e.depth = static_cast<std::uint16_t>(stack.size());
  e.start_ns = f.start - origin_;
  e.duration_ns = static_cast<std::uint64_t>(f.end - f.start);
  ProbeDeltas probes;
  if (f.gpu_ns >= 0) {
    // What this operation's calls were given so far: the aggregator's int64 total must not overflow.
    if (gpu_fed_.size() <= f.operation) gpu_fed_.resize(f.operation + 1u, 0);
    const std::int64_t value = std::min(f.gpu_ns, INT64_MAX - gpu_fed_[f.operation]);
    gpu_fed_[f.operation] += value;
    probes.set(ProbeMetric::GpuTimeNs, value);
    e.probes = &probes;
    if (!stack.empty()) {
      Frame& parent = stack.back();
      parent.gpu_ns = saturating_add(parent.gpu_ns < 0 ? 0 : parent.gpu_ns, f.gpu_ns);
    }
  }
  agg_.add(e);
}

void CallNesting::add(std::uint32_t thread, std::uint32_t operation, std::int64_t start_ns, std::int64_t duration_ns,
                      std::int64_t gpu_ns) {
  if (thread >= stacks_.size()) stacks_.resize(thread + 1u);
  std::vector<Frame>& stack = stacks_[thread];
  while (!stack.empty() && stack.back().end <= start_ns) complete(thread, stack);
  if (stack.size() >= kMaxDepth)
    throw NestingTooDeep("expected calls nested at most " + std::to_string(kMaxDepth) + " deep on one thread");
  stack.push_back({operation, start_ns, start_ns + duration_ns, gpu_ns});
}

void CallNesting::finish() {
  for (std::uint32_t t = 0; t < stacks_.size(); ++t)
    while (!stacks_[t].empty()) complete(t, stacks_[t]);
}

}  // namespace codeprof::io::trace
