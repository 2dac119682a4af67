#pragma once
// The raw trace kept for the Chrome trace export: a window of at most `events` events and
// `bytes` bytes, either the first ones (policy First) or, as a ring, the most recent ones (Last:
// the steady state and the end of a run, where users look). Events that do not fit are counted.
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

#include "codeprof/snapshot.hpp"

namespace codeprof::core {

enum class TracePolicy : std::uint8_t { First, Last };
std::string_view to_string(TracePolicy p) noexcept;

struct TraceBudget {
  TracePolicy policy = TracePolicy::Last;
  std::uint64_t events = 1'000'000;
  std::uint64_t bytes = 0;  // 0: no limit in bytes
};

class TraceWindow {
 public:
  // What one kept event costs against the byte budget (its probe deltas come on top).
  static constexpr std::uint64_t kEventBytes = 32;
  static constexpr std::uint64_t kProbeBytes = sizeof(ProbeDeltas);

  explicit TraceWindow(TraceBudget budget = {}) : budget_(budget) {}

  void set_budget(TraceBudget budget);  // evicts (Last) or leaves out (First) what no longer fits
  TraceBudget budget() const noexcept { return budget_; }
  void add(const TraceEvent& event);
  void clear() noexcept;

  std::size_t size() const noexcept { return events_.size(); }
  std::uint64_t outside() const noexcept { return outside_; }
  // trace_events (in arrival order), trace_events_dropped (= outside) and the window fields.
  // `keep` (may be null), indexed by operation id: only those operations' events are copied (ids
  // past its end are not); the window fields still cover every event kept here.
  void fill(Snapshot& out, const std::vector<bool>* keep = nullptr) const;

 private:
  struct Kept {
    std::int64_t start_ns;
    std::int64_t duration_ns;
    std::uint32_t operation_id;
    std::uint32_t thread_index;
    std::uint16_t depth;
    bool has_probes;
  };
  static std::uint64_t cost(const Kept& k) noexcept { return kEventBytes + (k.has_probes ? kProbeBytes : 0); }
  bool fits(std::uint64_t extra_bytes) const noexcept;
  void evict_oldest();

  TraceBudget budget_;
  std::deque<Kept> events_;
  std::deque<ProbeDeltas> probes_;  // of the kept events that have probes, in the same order
  std::uint64_t bytes_ = 0;
  std::uint64_t outside_ = 0;
};

}  // namespace codeprof::core
