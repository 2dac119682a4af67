#include "io/trace/gpu_activity.hpp"

#include <algorithm>

#include "io/trace/event_fields.hpp"

namespace codeprof::io::trace {

IntervalSet::IntervalSet(std::vector<std::pair<std::int64_t, std::int64_t>> intervals) {
  std::sort(intervals.begin(), intervals.end());
  for (const auto& [s, e] : intervals) {
    if (e <= s) continue;
    if (!merged_.empty() && s <= merged_.back().second) {
      merged_.back().second = std::max(merged_.back().second, e);
    } else {
      merged_.emplace_back(s, e);
    }
  }
}

std::int64_t IntervalSet::overlap(std::int64_t start, std::int64_t end) const noexcept {
  // First interval that ends after `start`, then every one that begins before `end`.
  auto it = std::upper_bound(merged_.begin(), merged_.end(), start,
                             [](std::int64_t v, const auto& iv) { return v < iv.second; });
  std::int64_t sum = 0;
  for (; it != merged_.end() && it->first < end; ++it) sum += std::min(end, it->second) - std::max(start, it->first);
  return sum;
}

std::int64_t IntervalSet::total() const noexcept {
  std::int64_t sum = 0;
  for (const auto& [s, e] : merged_) sum += e - s;
  return sum;
}

void GpuActivity::Union::add(std::int64_t s, std::int64_t e, const IntervalSet* steps) noexcept {
  if (open && s <= end) {
    end = std::max(end, e);
    return;
  }
  close(steps);
  open = true;
  start = s;
  end = e;
}

void GpuActivity::Union::close(const IntervalSet* steps) noexcept {
  if (!open) return;
  busy += end - start;
  if (steps) in_steps += steps->overlap(start, end);
  open = false;
}

GpuActivity::Lane& GpuActivity::lane(int device, int stream) {
  auto [it, inserted] = lanes_.try_emplace({device, stream});
  if (inserted) {
    it->second.totals.device = device;
    it->second.totals.stream = stream;
  }
  return it->second;
}

void GpuActivity::add(int device, int stream, EventKind kind, std::int64_t start, std::int64_t duration,
                      std::uint64_t bytes) {
  for (Lane* l : {&lane(device, stream), &lane(device, -1)}) {
    DeviceActivity& t = l->totals;
    switch (kind) {
      case EventKind::Kernel:
        t.kernel_ns = saturating_add(t.kernel_ns, duration);
        ++t.kernels;
        break;
      case EventKind::Memcpy:
        t.memcpy_ns = saturating_add(t.memcpy_ns, duration);
        t.memcpy_bytes += bytes;
        break;
      case EventKind::Memset:
        t.memset_ns = saturating_add(t.memset_ns, duration);
        break;
      default:
        break;
    }
    l->busy.add(start, start + duration, steps_);
  }
}

std::vector<DeviceActivity> GpuActivity::finish() {
  std::vector<DeviceActivity> out;
  out.reserve(lanes_.size());
  for (auto& [key, l] : lanes_) {  // (device, -1) sorts before the device's streams
    l.busy.close(steps_);
    l.totals.busy_ns = l.busy.busy;
    l.totals.busy_in_steps_ns = l.busy.in_steps;
    out.push_back(l.totals);
  }
  return out;
}

}  // namespace codeprof::io::trace
