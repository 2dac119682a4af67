#include "core/recorder.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <system_error>

#include "core/thread_stats.hpp"

namespace codeprof {
namespace core {
namespace {

std::atomic<std::uint64_t> g_next_recorder_id{1};
// How long an idle collector waits while the trace is off (see collector_loop).
constexpr std::chrono::microseconds kUntracedInterval{50'000};

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
      window_(TraceBudget{options.trace_policy, options.trace_budget, options.trace_budget_bytes}),
      keep_trace_(options.keep_trace),
      last_refine_(std::chrono::steady_clock::now()) {
  state_.id = g_next_recorder_id.fetch_add(1);
  state_.use_tsc = ticks_.use_tsc();
  state_.owner = this;
  state_.scale.origin_ticks = ticks_.origin_ticks();
  state_.scale.set_rate(ticks_.ns_per_tick());
  publish_mask();
  {
    std::lock_guard lock(drain_mutex_);
    publish_control();
  }
  if (options.start_collector) collector_ = std::thread([this] { collector_loop(); });
  else state_.collector_missing.store(true, std::memory_order_relaxed);
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
  // This handler runs on the forking thread: its statistics (the parent's) can go right away.
  fork_ring_ = calling_threads_ring(state_.id);
  if (fork_ring_) {
    fork_ring_->discard_statistics();
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
    base_.reset();
    base_.retain_only_thread(keep ? keep->thread_index : UINT32_MAX, tid);
    if (keep) {
      keep->os_tid = tid;
      attached_.push_back(Attached{std::move(keep), fork_dropped_});
    }
  }
  window_.clear();
  lifetime_retired_ = 0;
  dropped_total_ = 0;
  reset_at_ns_ = static_cast<std::int64_t>(detail::steady_ns()) - ticks_.origin_steady_ns();
  // No collector yet: statistics need none, and flush, snapshot and reset work on the calling
  // thread. One starts when a trace ring fills (or never, where a sanitizer forbids threads
  // after fork).
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

void Recorder::publish_control() {
  const bool was_tracing = state_.control.load(std::memory_order_relaxed) & detail::kControlTrace;
  state_.control.store(epoch_ * detail::kControlEpochUnit | (keep_trace_ ? detail::kControlTrace : 0u),
                       std::memory_order_release);
  if (keep_trace_ && !was_tracing) {
    // Not under wake_mutex_ (the fork handler takes it before this one's caller's lock): at worst
    // the collector misses the notification and wakes at its untraced interval.
    trace_switched_on_.store(true);
    wake_.notify_all();
  }
}

void Recorder::refine_ticks() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refine_ < std::chrono::milliseconds(200)) return;
  ticks_.refine();
  state_.scale.set_rate(ticks_.ns_per_tick());
  last_refine_ = now;
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
  keep_trace_ = keep;
  TraceBudget b = window_.budget();
  b.events = budget;
  window_.set_budget(b);
  publish_control();
}

void Recorder::set_trace(bool keep, TraceBudget budget) {
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
  keep_trace_ = keep;
  window_.set_budget(budget);
  publish_control();
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
  auto ring = std::make_shared<detail::ThreadBuffer>(capacity_, &state_);
  ring->os_tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  // Current as of now; a reset after this is seen at the thread's next call.
  ring->seen_control = state_.control.load(std::memory_order_acquire);
  ring->epoch_seen.store(ring->seen_control / detail::kControlEpochUnit, std::memory_order_relaxed);
  {
    std::lock_guard lock(threads_mutex_);
    ring->thread_index = next_thread_index_++;
    new_buffers_.push_back(ring);
    pending_names_.emplace_back(ring->thread_index, current_thread_name());
  }
  t_attachments.rings.emplace_back(state_.id, ring);
  set_slot(detail::tls_slot, state_.id, ring.get());
  remember_for_signals(state_.id, ring.get());
  if (const auto hook = state_.thread_attached.load(std::memory_order_acquire)) hook(*ring);
  return ring.get();
}

void Recorder::set_thread_name(std::string name) {
  adopt_fork();
  detail::ThreadBuffer* ring = detail::thread_buffer(state_);
  std::lock_guard lock(threads_mutex_);
  pending_names_.emplace_back(ring->thread_index, std::move(name));
}

void Recorder::collector_loop() {
  while (!stop_.load(std::memory_order_relaxed)) {
    std::size_t moved = 0;
    {
      std::lock_guard lock(drain_mutex_);
      moved = drain_locked();
      refine_ticks();
    }
    // Busy trace rings are drained again at once; idle ones wait for the interval. Without the
    // trace no event reaches a ring (statistics stay on their threads) and the collector only folds
    // exited threads and refines the TSC rate: it waits kUntracedInterval, since each wake costs a
    // context switch (1000 wakes a second took 4 % of a core on a 2-vCPU virtual machine,
    // bench/sampling_bench's `off` mode, the working thread's CPU against the process's).
    if (moved < 256) {
      const bool tracing = state_.control.load(std::memory_order_relaxed) & detail::kControlTrace;
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, tracing ? interval_ : std::max<std::chrono::microseconds>(interval_, kUntracedInterval), [this] {
        return stop_.load(std::memory_order_relaxed) || trace_switched_on_.exchange(false);
      });
    }
  }
}

void Recorder::collect_dropped(Attached& a) {
  const std::uint64_t d = a.buffer->dropped.load(std::memory_order_relaxed);
  if (d != a.dropped_seen) {
    base_.add_dropped(a.buffer->thread_index, d - a.dropped_seen);
    dropped_total_ += d - a.dropped_seen;
    a.dropped_seen = d;
  }
}

std::size_t Recorder::drain_locked() {
  {
    std::lock_guard lock(threads_mutex_);
    for (auto& b : new_buffers_) {
      base_.set_thread_info(b->thread_index, b->os_tid, {});
      attached_.push_back(Attached{std::move(b), 0});
    }
    new_buffers_.clear();
    for (auto& [index, name] : pending_names_) {
      for (const Attached& a : attached_)
        if (a.buffer->thread_index == index) base_.set_thread_info(index, a.buffer->os_tid, name);
    }
    pending_names_.clear();
  }

  std::size_t moved = 0;
  ProbeDeltas probes;
  for (Attached& a : attached_) {
    detail::ThreadBuffer& b = *a.buffer;
    // Read `closed` before anything else: a closed thread writes nothing after it.
    const bool closed = b.closed.load(std::memory_order_acquire);
    const detail::Event* slots = b.consumer_slots.load(std::memory_order_acquire);
    const std::uint64_t head = b.head.load(std::memory_order_acquire);
    std::uint64_t tail = b.tail.load(std::memory_order_relaxed);
    while (slots && tail < head) {
      const detail::Event& ev = slots[tail & b.consumer_mask];
      TraceEvent te;
      te.operation_id = ev.operation_id;
      te.thread_index = b.thread_index;
      te.depth = ev.depth;
      te.start_ns = ticks_.to_ns(ev.start_ticks);
      te.duration_ns = static_cast<std::int64_t>(state_.scale.duration_ns(ev.start_ticks, ev.end_ticks));
      std::uint64_t used = 1;
      if (ev.payload_slots) {
        auto* dst = reinterpret_cast<unsigned char*>(&probes);
        for (std::uint64_t i = 0; i < ev.payload_slots; ++i) {
          const std::size_t off = i * sizeof(detail::Event);
          const std::size_t n = std::min(sizeof(ProbeDeltas) - off, sizeof(detail::Event));
          std::memcpy(dst + off, &slots[(tail + 1 + i) & b.consumer_mask], n);
        }
        te.probes = probes;
        used += ev.payload_slots;
      }
      window_.add(te);
      tail += used;
      ++moved;
    }
    b.tail.store(tail, std::memory_order_release);
    collect_dropped(a);
    if (closed) {
      // The thread had exited before we looked: its statistics join the base (when they belong
      // to this epoch). A thread that exits meanwhile is seen by the next drain.
      merge_thread_statistics(b, epoch_, b.thread_index, state_.scale, base_);
      lifetime_retired_ += lifetime_events(b);
      a.retire = true;
    }
  }
  std::erase_if(attached_, [](const Attached& a) { return a.retire; });
  return moved;
}

void Recorder::flush() {
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
  drain_locked();
}

std::vector<detail::RecordingThread> Recorder::recording_threads() {
  std::vector<detail::RecordingThread> out;
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
  std::lock_guard tlock(threads_mutex_);
  out.reserve(attached_.size() + new_buffers_.size());
  for (const Attached& a : attached_)
    if (!a.buffer->closed.load(std::memory_order_acquire)) out.push_back({a.buffer->os_tid, a.buffer});
  for (const auto& b : new_buffers_)
    if (!b->closed.load(std::memory_order_acquire)) out.push_back({b->os_tid, b});
  return out;
}

void Recorder::reset() {
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
  drain_locked();
  // Each thread clears its own statistics at its next call; until then snapshots skip them.
  ++epoch_;
  publish_control();
  base_.reset();
  window_.clear();
  reset_at_ns_ = static_cast<std::int64_t>(detail::steady_ns()) - ticks_.origin_steady_ns();
}

void Recorder::fill(Snapshot& out, std::uint32_t trace_categories) {
  std::vector<SiteInfo> sites = site_table();
  std::lock_guard lock(drain_mutex_);
  adopt_fork_locked();
  drain_locked();
  refine_ticks();
  Aggregator merged;
  merged.merge_from(base_);
  std::uint64_t lifetime = lifetime_retired_;
  for (const Attached& a : attached_) {
    merge_thread_statistics(*a.buffer, epoch_, a.buffer->thread_index, state_.scale, merged);
    lifetime += lifetime_events(*a.buffer);
  }
  merged.fill(out, sites);
  if (keep_trace_ || window_.size() || window_.outside()) {
    if ((trace_categories & kAllCategoriesMask) == kAllCategoriesMask) {
      window_.fill(out);
    } else {
      std::vector<bool> keep(sites.size());
      for (std::size_t id = 0; id < sites.size(); ++id) keep[id] = (trace_categories & category_bit(sites[id].category)) != 0;
      window_.fill(out, &keep);
      out.trace_categories = trace_categories;
    }
  }
  out.events_recorded_total = lifetime;
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
