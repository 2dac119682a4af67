#include "core/recorder.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <system_error>

namespace codeprof {
namespace core {
namespace {

std::atomic<std::uint64_t> g_next_recorder_id{1};

std::uint32_t round_capacity(std::uint32_t n) {
  std::uint32_t c = 64;
  while (c < n && c < (1u << 28)) c <<= 1;
  return c;
}

// Writes a TLS slot so that a signal handler on this thread never sees a recorder id paired with
// another recorder's ring.
void set_slot(detail::ThreadSlot& slot, std::uint64_t recorder_id, detail::ThreadBuffer* ring) noexcept {
  slot.recorder_id = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  slot.buffer = ring;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  slot.recorder_id = recorder_id;
}

void remember_for_signals(std::uint64_t recorder_id, detail::ThreadBuffer* ring) noexcept {
  static thread_local std::size_t next_victim = 0;
  for (detail::ThreadSlot& s : detail::tls_rings)
    if (s.recorder_id == recorder_id) return;
  for (detail::ThreadSlot& s : detail::tls_rings) {
    if (s.recorder_id == 0) {
      set_slot(s, recorder_id, ring);
      return;
    }
  }
  set_slot(detail::tls_rings[next_victim++ % detail::kSignalSlots], recorder_id, ring);
}

// Every ring this thread writes to; marks them closed when the thread exits so the collector
// drains and retires them.
struct ThreadAttachments {
  std::vector<std::pair<std::uint64_t, std::shared_ptr<detail::ThreadBuffer>>> rings;
  ~ThreadAttachments() {
    set_slot(detail::tls_slot, 0, nullptr);
    for (detail::ThreadSlot& s : detail::tls_rings) set_slot(s, 0, nullptr);
    for (auto& r : rings) r.second->closed.store(true, std::memory_order_release);
  }
};
thread_local ThreadAttachments t_attachments;

detail::ThreadBuffer* calling_threads_ring(std::uint64_t recorder_id) noexcept {
  if (detail::tls_slot.recorder_id == recorder_id) return detail::tls_slot.buffer;
  for (const detail::ThreadSlot& s : detail::tls_rings)
    if (s.recorder_id == recorder_id) return s.buffer;
  return nullptr;
}

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
  register_fork_aware(this);
}

Recorder::~Recorder() {
  unregister_fork_aware(this);
  {
    std::lock_guard lock(wake_mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  if (collector_.joinable()) collector_.join();
  state_.active_mask.store(0);
  flush();
}

// ---- fork(): lock order as in normal use (drain, then threads, then switches); wake is a leaf.
void Recorder::before_fork() noexcept {
  drain_mutex_.lock();
  threads_mutex_.lock();
  switch_mutex_.lock();
  wake_mutex_.lock();
}

void Recorder::after_fork_parent() noexcept {
  wake_mutex_.unlock();
  switch_mutex_.unlock();
  threads_mutex_.unlock();
  drain_mutex_.unlock();
}

void Recorder::after_fork_child() noexcept {
  wake_mutex_.unlock();
  switch_mutex_.unlock();
  threads_mutex_.unlock();
  drain_mutex_.unlock();
  // The collector does not exist here: forget its handle without joining or destroying it, and
  // give the condition variable a fresh state (the dead collector may be registered as a waiter).
  std::construct_at(&collector_);
  std::construct_at(&wake_);
  fork_ring_ = calling_threads_ring(state_.id);
  if (fork_ring_) {
    fork_head_ = fork_ring_->head.load(std::memory_order_relaxed);
    fork_dropped_ = fork_ring_->dropped.load(std::memory_order_relaxed);
  }
  state_.collector_missing.store(true, std::memory_order_relaxed);
  forked_.store(true, std::memory_order_release);
}

void Recorder::adopt_fork() {
  if (!forked_.load(std::memory_order_acquire)) [[likely]]
    return;
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
}

void Recorder::adopt_fork_locked() {
  if (!forked_.exchange(false, std::memory_order_acq_rel)) return;
  {
    std::lock_guard lock(threads_mutex_);
    detail::ThreadBuffer* mine = fork_ring_;
    std::shared_ptr<detail::ThreadBuffer> keep;
    for (const Attached& a : attached_)
      if (a.buffer.get() == mine) keep = a.buffer;
    for (const auto& b : new_buffers_)
      if (b.get() == mine) keep = b;
    attached_.clear();
    new_buffers_.clear();
    std::erase_if(pending_names_, [&](const auto& n) { return !keep || n.first != keep->thread_index; });
    const auto tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
    aggregator_.reset();
    aggregator_.retain_only_thread(keep ? keep->thread_index : UINT32_MAX, tid);
    if (keep) {
      keep->os_tid = tid;
      // What the parent had published is the parent's: the child starts after it.
      if (keep->tail.load(std::memory_order_relaxed) < fork_head_) keep->tail.store(fork_head_, std::memory_order_relaxed);
      attached_.push_back(Attached{std::move(keep), fork_dropped_});
    }
  }
  recorded_total_ = 0;
  dropped_total_ = 0;
  reset_at_ns_ = static_cast<std::int64_t>(detail::steady_ns()) - ticks_.origin_steady_ns();
  // No collector yet: flush, snapshot and reset drain on the calling thread, and a child that only
  // records a little (or a sanitizer that forbids threads after fork) needs none.
}

void Recorder::revive_collector() {
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
  if (!state_.collector_missing.exchange(false) || stop_.load()) return;
  try {
    collector_ = std::thread([this] { collector_loop(); });
  } catch (const std::system_error&) {
    state_.collector_missing.store(true);  // no thread to be had: try again at the next full ring
  }
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
  adopt_fork_locked();
  aggregator_.set_trace(keep, budget);
}

detail::ThreadBuffer* Recorder::attach_current_thread() {
  adopt_fork();
  for (auto& [id, ring] : t_attachments.rings) {
    if (id == state_.id) {
      set_slot(detail::tls_slot, state_.id, ring.get());
      remember_for_signals(state_.id, ring.get());
      return ring.get();
    }
  }
  auto ring = std::make_shared<detail::ThreadBuffer>(capacity_);
  ring->os_tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  ring->recorder = &state_;
  {
    std::lock_guard lock(threads_mutex_);
    ring->thread_index = next_thread_index_++;
    new_buffers_.push_back(ring);
    pending_names_.emplace_back(ring->thread_index, current_thread_name());
  }
  t_attachments.rings.emplace_back(state_.id, ring);
  set_slot(detail::tls_slot, state_.id, ring.get());
  remember_for_signals(state_.id, ring.get());
  return ring.get();
}

void Recorder::set_thread_name(std::string name) {
  adopt_fork();
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
      ce.flags = ev.flags;
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
  adopt_fork_locked();
  drain_locked();
}

void Recorder::reset() {
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
  drain_locked();
  aggregator_.reset();
  reset_at_ns_ = static_cast<std::int64_t>(detail::steady_ns()) - ticks_.origin_steady_ns();
}

void Recorder::fill(Snapshot& out) {
  std::vector<SiteInfo> sites = site_table();
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
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

void detail::ring_full(RecorderState& state) noexcept {
  if (state.collector_missing.load(std::memory_order_relaxed)) [[unlikely]]
    static_cast<core::Recorder*>(state.owner)->revive_collector();
}

bool detail::ring_of_calling_thread(const ThreadBuffer* b) noexcept {
  if (tls_slot.buffer == b) return true;
  for (const ThreadSlot& s : tls_rings)
    if (s.buffer == b) return true;
  for (const auto& r : core::t_attachments.rings)
    if (r.second.get() == b) return true;
  return false;
}

}  // namespace codeprof
