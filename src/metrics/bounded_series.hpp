#pragma once
// One sampled series in a ring of fixed capacity: the oldest sample is overwritten once it is
// full, so memory stays flat however long the run.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "codeprof/snapshot.hpp"

namespace codeprof::metrics {

class BoundedSeries {
 public:
  BoundedSeries(std::string name, std::string unit, std::size_t capacity)
      : name_(std::move(name)), unit_(std::move(unit)), capacity_(capacity > 0 ? capacity : 1) {}

  void push(std::int64_t t_ns, double value) {
    if (t_.size() < capacity_) {
      t_.push_back(t_ns);
      v_.push_back(value);
      return;
    }
    t_[head_] = t_ns;
    v_[head_] = value;
    head_ = (head_ + 1) % capacity_;
  }

  void clear() noexcept {
    t_.clear();
    v_.clear();
    head_ = 0;
  }

  std::size_t size() const noexcept { return t_.size(); }
  const std::string& name() const noexcept { return name_; }

  // Oldest first.
  TimelineSeries to_series() const {
    TimelineSeries s;
    s.name = name_;
    s.unit = unit_;
    s.t_ns.reserve(t_.size());
    s.values.reserve(v_.size());
    for (std::size_t i = 0; i < t_.size(); ++i) {
      const std::size_t j = (head_ + i) % t_.size();
      s.t_ns.push_back(t_[j]);
      s.values.push_back(v_[j]);
    }
    return s;
  }

 private:
  std::string name_;
  std::string unit_;
  std::size_t capacity_;
  std::vector<std::int64_t> t_;
  std::vector<double> v_;
  std::size_t head_ = 0;  // next slot to overwrite once full
};

}  // namespace codeprof::metrics
