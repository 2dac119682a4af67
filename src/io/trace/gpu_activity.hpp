#pragma once
// GPU activity per device and per stream: busy time is the union of kernel, memcpy and memset
// intervals (overlapping work counts once), and the part of it that falls inside the steps.
// Activities must arrive in start order within each device (any order across devices).
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "codeprof/snapshot.hpp"
#include "io/trace/kineto_mapping.hpp"

namespace codeprof::io::trace {

// Merged, sorted, disjoint [start, end) intervals, with the overlap of another interval.
class IntervalSet {
 public:
  IntervalSet() = default;
  explicit IntervalSet(std::vector<std::pair<std::int64_t, std::int64_t>> intervals);  // any order, may overlap
  std::int64_t overlap(std::int64_t start, std::int64_t end) const noexcept;
  std::int64_t total() const noexcept;
  bool empty() const noexcept { return merged_.empty(); }

 private:
  std::vector<std::pair<std::int64_t, std::int64_t>> merged_;
};

class GpuActivity {
 public:
  explicit GpuActivity(const IntervalSet* steps) : steps_(steps) {}
  void add(int device, int stream, EventKind kind, std::int64_t start, std::int64_t duration, std::uint64_t bytes);
  // One entry per device (stream -1) followed by its streams, ascending.
  std::vector<DeviceActivity> finish();

 private:
  // The union of intervals that arrive in start order.
  struct Union {
    bool open = false;
    std::int64_t start = 0, end = 0;
    std::int64_t busy = 0, in_steps = 0;
    void add(std::int64_t s, std::int64_t e, const IntervalSet* steps) noexcept;
    void close(const IntervalSet* steps) noexcept;
  };
  struct Lane {
    DeviceActivity totals;
    Union busy;
  };
  Lane& lane(int device, int stream);

  const IntervalSet* steps_;
  std::map<std::pair<int, int>, Lane> lanes_;  // (device, stream); stream -1: the whole device
};

}  // namespace codeprof::io::trace
