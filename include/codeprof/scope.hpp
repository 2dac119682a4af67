#pragma once
// The RAII scope: two timestamps and an operation id. One predictable branch when disabled.
// A scope must end on the thread that began it; scopes nest.
#include <cstdint>

#include "codeprof/call_site.hpp"
#include "codeprof/detail/recorder_state.hpp"
#include "codeprof/detail/ticks.hpp"

namespace codeprof {

class Scope {
 public:
  Scope() noexcept = default;  // inactive
  Scope(detail::RecorderState& state, SiteId site) noexcept {
    const std::uint32_t bit = category_bit(site.category);
    if (state.active_mask.load(std::memory_order_relaxed) & bit) [[likely]]
      begin(state, site.id, bit);
  }
  ~Scope() {
    if (buffer_) end();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  Scope(Scope&&) = delete;
  Scope& operator=(Scope&&) = delete;

  bool active() const noexcept { return buffer_ != nullptr; }

 private:
  void begin(detail::RecorderState& state, std::uint32_t id, std::uint32_t bit) noexcept {
    detail::ThreadBuffer* b = detail::thread_buffer(state);
    buffer_ = b;
    id_ = id;
    parent_ = b->current_operation;
    b->current_operation = id;
    depth_ = b->depth++;
    use_tsc_ = state.use_tsc;
    if (state.probe_mask.load(std::memory_order_relaxed) & bit) [[unlikely]]
      begin_probes(state);
    start_ = detail::read_ticks(use_tsc_);
  }

  void end() noexcept {
    const std::uint64_t t = detail::read_ticks(use_tsc_);
    detail::ThreadBuffer* b = buffer_;
    b->current_operation = parent_;
    b->depth = depth_;
    const detail::Event ev{start_, t, id_, parent_, depth_, 0, 0};
    if (probe_state_) [[unlikely]] {
      end_probes(ev);
      return;
    }
    b->push(ev, nullptr);
  }

  void begin_probes(detail::RecorderState& state) noexcept;  // src/core/scope.cpp
  void end_probes(const detail::Event& ev) noexcept;

  detail::ThreadBuffer* buffer_ = nullptr;
  detail::RecorderState* probe_state_ = nullptr;  // set when probes run for this scope
  std::uint64_t start_ = 0;
  std::uint32_t id_ = 0;
  std::uint32_t parent_ = 0;
  std::uint16_t depth_ = 0;
  bool use_tsc_ = false;
};

}  // namespace codeprof
