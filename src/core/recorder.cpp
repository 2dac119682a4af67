#include "core/recorder.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace codeprof {
namespace core {
namespace {

std::atomic<std::uint64_t> g_next_recorder_id{1};

std::uint32_t round_capacity(std::uint32_t n) {
  std::uint32_t c = 64;
  while (c < n && c < (1u << 28)) c <<= 1;
  return c;
}

// Every ring this thread writes to; marks them closed when the thread exits so the collector
// drains and retires them.
struct ThreadAttachments {
  std::vector<std::pair<std::uint64_t, std::shared_ptr<detail::ThreadBuffer>>> rings;
  ~ThreadAttachments() {
    detail::tls_slot = {0, nullptr};
    for (auto& r : rings) r.second->closed.store(true, std::memory_order_release);
  }
};
thread_local ThreadAttachments t_attachments;

std::string current_thread_name() {
  char buf[32] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) return {};
  return buf;
}

}  // namespace

Recorder::Recorder(const RecorderOptions& options)
    : ticks_(!options.force_steady_clock && tsc_is_invariant()),
      origin_unix_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count()),
      capacity_(round_capacity(options.buffer_events)),
      interval_(std::max<std::uint32_t>(options.collector_interval_us, 50)),
      enabled_(options.enabled),
      categories_(options.category_mask & kAllCategoriesMask),
      aggregator_(AggregatorOptions{options.keep_trace, options.trace_budget}) {
  state_.id = g_next_recorder_id.fetch_add(1);
  state_.use_tsc = ticks_.use_tsc();
  state_.owner = this;
  publish_mask();
  collector_ = std::thread([this] { collector_loop(); });
}

Recorder::~Recorder() {
  {
    std::lock_guard lock(wake_mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  if (collector_.joinable()) collector_.join();
  state_.active_mask.store(0);
  flush();
}

void Recorder::publish_mask() {
  const std::uint32_t recording = enabled_ ? categories_ : 0u;
  state_.active_mask.store(recording | ((recording & probe_categories_) << detail::kProbeShift),
                           std::memory_order_relaxed);
}

void Recorder::set_enabled(bool on) {
  std::lock_guard lock(switch_mutex_);
  enabled_ = on;
  publish_mask();
}

bool Recorder::enabled() const {
  std::lock_guard lock(switch_mutex_);
  return enabled_;
}

void Recorder::set_category_enabled(Category c, bool on) {
  std::lock_guard lock(switch_mutex_);
  if (on)
    categories_ |= category_bit(c);
  else
    categories_ &= ~category_bit(c);
  publish_mask();
}

bool Recorder::category_enabled(Category c) const {
  std::lock_guard lock(switch_mutex_);
  return (categories_ & category_bit(c)) != 0;
}

std::uint32_t Recorder::category_mask() const {
  std::lock_guard lock(switch_mutex_);
  return categories_;
}

void Recorder::set_probe_categories(std::uint32_t mask) {
  std::lock_guard lock(switch_mutex_);
  probe_categories_ = state_.hooks.begin && state_.hooks.end ? (mask & kAllCategoriesMask) : 0u;
  publish_mask();
}

void Recorder::set_trace(bool keep, std::uint64_t budget) {
  std::lock_guard lock(drain_mutex_);
  aggregator_.set_trace(keep, budget);
}

detail::ThreadBuffer* Recorder::attach_current_thread() {
  for (auto& [id, ring] : t_attachments.rings) {
    if (id == state_.id) {
      detail::tls_slot = {state_.id, ring.get()};
      return ring.get();
    }
  }
  auto ring = std::make_shared<detail::ThreadBuffer>(capacity_);
  ring->os_tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  {
    std::lock_guard lock(threads_mutex_);
    ring->thread_index = next_thread_index_++;
    new_buffers_.push_back(ring);
    pending_names_.emplace_back(ring->thread_index, current_thread_name());
  }
  t_attachments.rings.emplace_back(state_.id, ring);
  detail::tls_slot = {state_.id, ring.get()};
  return ring.get();
}

void Recorder::set_thread_name(std::string name) {
  detail::ThreadBuffer* ring = detail::thread_buffer(state_);
  std::lock_guard lock(threads_mutex_);
  pending_names_.emplace_back(ring->thread_index, std::move(name));
}

void Recorder::collector_loop() {
  auto last_refine = std::chrono::steady_clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    std::size_t drained = 0;
    {
      std::lock_guard lock(drain_mutex_);
      drained = drain_locked();
      const auto now = std::chrono::steady_clock::now();
      if (now - last_refine > std::chrono::milliseconds(200)) {
        ticks_.refine();
        last_refine = now;
      }
    }
    // Busy rings are drained again at once; idle ones wait for the interval.
    if (drained < 256) {
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, interval_, [this] { return stop_.load(std::memory_order_relaxed); });
    }
  }
}

std::size_t Recorder::drain_locked() {
  {
    std::lock_guard lock(threads_mutex_);
    for (auto& b : new_buffers_) {
      attached_.push_back(Attached{std::move(b), 0});
      aggregator_.set_thread_info(attached_.back().buffer->thread_index, attached_.back().buffer->os_tid, {});
    }
    new_buffers_.clear();
    for (auto& [index, name] : pending_names_) {
      for (const Attached& a : attached_)
        if (a.buffer->thread_index == index) aggregator_.set_thread_info(index, a.buffer->os_tid, name);
    }
    pending_names_.clear();
  }

  std::size_t drained = 0;
  ProbeDeltas probes;
  for (Attached& a : attached_) {
    detail::ThreadBuffer& b = *a.buffer;
    // Read `closed` before head: a closed ring gets no further events (or drops) after it.
    const bool closed = b.closed.load(std::memory_order_acquire);
    const std::uint64_t head = b.head.load(std::memory_order_acquire);
    std::uint64_t tail = b.tail.load(std::memory_order_relaxed);
    while (tail < head) {
      const detail::Event& ev = b.consumer_slots[tail & b.consumer_mask];
      CompletedEvent ce;
      ce.operation_id = ev.operation_id;
      ce.parent_id = ev.parent_id;
      ce.thread_index = b.thread_index;
      ce.depth = ev.depth;
      ce.start_ns = ticks_.to_ns(ev.start_ticks);
      ce.duration_ns = ticks_.duration_ns(ev.start_ticks, ev.end_ticks);
      std::uint64_t used = 1;
      if (ev.payload_slots) {
        auto* dst = reinterpret_cast<unsigned char*>(&probes);
        for (std::uint64_t i = 0; i < ev.payload_slots; ++i) {
          const std::size_t off = i * sizeof(detail::Event);
          const std::size_t n = std::min(sizeof(ProbeDeltas) - off, sizeof(detail::Event));
          std::memcpy(dst + off, &b.consumer_slots[(tail + 1 + i) & b.consumer_mask], n);
        }
        ce.probes = &probes;
        used += ev.payload_slots;
      }
      aggregator_.add(ce);
      ++recorded_total_;
      tail += used;
      ++drained;
    }
    b.tail.store(tail, std::memory_order_release);
    // A ring whose thread had exited before we read its head is complete: retire it, after
    // taking its last drops.
    a.retire = closed && tail == head;
  }
  collect_dropped_locked();
  std::erase_if(attached_, [](const Attached& a) { return a.retire; });
  return drained;
}

void Recorder::collect_dropped_locked() {
  for (Attached& a : attached_) {
    const std::uint64_t d = a.buffer->dropped.load(std::memory_order_relaxed);
    if (d != a.dropped_seen) {
      aggregator_.add_dropped(a.buffer->thread_index, d - a.dropped_seen);
      dropped_total_ += d - a.dropped_seen;
      a.dropped_seen = d;
    }
  }
}

void Recorder::flush() {
  std::lock_guard lock(drain_mutex_);
  drain_locked();
}

void Recorder::reset() {
  std::lock_guard lock(drain_mutex_);
  drain_locked();
  aggregator_.reset();
  reset_at_ns_ = static_cast<std::int64_t>(detail::steady_ns()) - ticks_.origin_steady_ns();
}

void Recorder::fill(Snapshot& out) {
  std::vector<SiteInfo> sites = site_table();
  std::lock_guard lock(drain_mutex_);
  drain_locked();
  aggregator_.fill(out, sites);
  out.events_recorded_total = recorded_total_;
  out.events_dropped_total = dropped_total_;
  out.run.start_unix_ns = origin_unix_ns_;
  const std::int64_t now = static_cast<std::int64_t>(detail::steady_ns()) - ticks_.origin_steady_ns();
  out.run.wall_ns = now - reset_at_ns_;
  out.run.metadata["wall_since_ns"] = std::to_string(reset_at_ns_);
  out.run.metadata["clock"] = ticks_.use_tsc() ? "tsc" : "steady_clock";
  std::lock_guard slock(switch_mutex_);
  out.run.enabled = enabled_;
  out.run.category_mask = categories_;
}

}  // namespace core

detail::ThreadBuffer* detail::attach_thread(RecorderState& state) {
  return static_cast<core::Recorder*>(state.owner)->attach_current_thread();
}

}  // namespace codeprof
