#include "sampling/alloc_sampler.hpp"

#include <execinfo.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sampling/open_operations.hpp"
#include "sampling/symbolizer.hpp"

namespace codeprof::sampling {
namespace {

constexpr int kMaxOperations = 32;
constexpr int kMaxFramesLimit = 256;
// Frames of the allocator itself above the caller's (the sampling hook, operator new); they are
// captured too (with the capture's own) and cut off after symbolisation, at the operator new frame.
constexpr int kAllocatorFrames = 6;
constexpr std::uint32_t kNoOperation = 0xFFFFFFFFu;
constexpr std::size_t kFilterWords = (std::size_t{1} << AllocSampler::kFilterBits) / 64;

// Read by operator delete on every thread: constant-initialised, never freed.
std::atomic<std::uint64_t> g_filter[kFilterWords];

// Set while this thread runs sampler code: its own allocations are never sampled (no recursion,
// no deadlock on the state's lock) and its frees are never looked up (they are never sampled).
constinit thread_local bool t_busy = false;
struct Busy {
  bool was = t_busy;
  Busy() noexcept { t_busy = true; }
  ~Busy() { t_busy = was; }
};

struct RawStack {
  std::vector<std::uintptr_t> pcs;  // return addresses, innermost first, allocator frames included
  std::vector<std::uint32_t> ops;   // open operations, innermost first
  std::uint64_t thread = 0;
  std::uint64_t samples = 0;
  std::uint64_t bytes = 0;  // estimated bytes allocated
  std::uint64_t live = 0;   // of those, estimated bytes not freed yet
  double objects = 0;       // estimated allocations made (a sample stands for 1 / its probability)
  double live_objects = 0;  // of those, estimated allocations not freed yet
};

struct LiveAllocation {
  std::uint32_t stack = 0;
  std::uint32_t operation = kNoOperation;  // innermost open operation
  std::uint64_t weight = 0;                // estimated bytes it stands for
  double objects = 0;                      // estimated allocations it stands for
  std::uint64_t epoch = 0;                 // counted only while it equals the state's epoch
};

struct OperationLive {
  std::int64_t live = 0;
  std::int64_t peak = 0;
};

// The process-wide state. Every member is guarded by `mutex`; the hooks take it only for a
// sampled allocation or for the free of an address whose filter bit is set.
struct State {
  std::mutex mutex;
  bool active = false;
  const detail::RecorderState* recorder = nullptr;
  std::atomic<int> max_frames{64};  // read before the lock is taken (the stack is captured outside it)
  double mean = 0;
  std::int64_t origin_ns = 0;
  std::uint32_t max_stacks = 0;
  // Allocations sampled before the last reset (or by an earlier profiler) stay in `live` until
  // they are freed, so that their filter bits are cleared, but count nowhere.
  std::uint64_t epoch = 0;
  std::vector<RawStack> stacks;
  std::unordered_map<std::string, std::uint32_t> stack_ids;  // key: pcs, operations, thread as bytes
  std::unordered_map<std::uintptr_t, LiveAllocation> live;
  std::vector<std::uint32_t> bit_users;  // live sampled addresses per filter bit
  std::unordered_map<std::uint32_t, OperationLive> operations;
  std::int64_t live_bytes = 0;
  std::int64_t peak_live_bytes = 0;
  std::int64_t peak_at_ns = 0;
  std::uint64_t samples = 0;
  std::uint64_t dropped = 0;  // sampled allocations of stacks beyond max_stacks

  void forget(std::unordered_map<std::uintptr_t, LiveAllocation>::iterator it, std::uint32_t bit) {
    const LiveAllocation& a = it->second;
    if (a.epoch == epoch) {
      const auto w = static_cast<std::int64_t>(a.weight);
      stacks[a.stack].live -= a.weight;
      stacks[a.stack].live_objects -= a.objects;
      live_bytes -= w;
      operations[a.operation].live -= w;
    }
    if (--bit_users[bit] == 0) g_filter[bit >> 6].fetch_and(~(1ull << (bit & 63)), std::memory_order_relaxed);
    live.erase(it);
  }
};

State& state() {
  static State* s = [] {
    Busy busy;
    auto* st = new State;  // never freed: operator delete may reach it until the process ends
    st->bit_users.assign(std::size_t{1} << AllocSampler::kFilterBits, 0);
    return st;
  }();
  return *s;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void append(std::string& key, const void* data, std::size_t n) { key.append(static_cast<const char*>(data), n); }

// A child of fork() has only the forking thread; it records nothing from then on.
void prepare_fork() { state().mutex.lock(); }
void parent_after_fork() { state().mutex.unlock(); }
void child_after_fork() {
  State& s = state();
  s.active = false;
  s.recorder = nullptr;
  s.mutex.unlock();
}

// operator new and codeprof::alloc's functions below it (alloc_hooks.cpp). operator new may
// tail-call them and leave no frame of its own (-O1 and sanitizer builds).
bool is_allocator_frame(const ProfileFrame& f) {
  return f.function.starts_with("operator new") || f.function.find("allocate_or_throw(") != std::string::npos ||
         f.function.find("allocate_nothrow(") != std::string::npos;
}

// The calling thread's stack, innermost first. Not in a signal handler, so glibc's backtrace()
// (libgcc's unwinder), which keeps no per-thread cache: unw_backtrace's is freed by a
// thread-specific-data destructor that crashed under ThreadSanitizer at thread exit. Its first
// call loads libgcc_s (a malloc, never sampled: the thread is busy).
int capture_stack(std::uintptr_t* pcs, int max) noexcept {
  static_assert(sizeof(void*) == sizeof(std::uintptr_t));
  return ::backtrace(reinterpret_cast<void**>(pcs), max);
}

}  // namespace

const std::atomic<std::uint64_t>* AllocSampler::address_filter() noexcept { return g_filter; }

void AllocSampler::on_sample(void* p, std::size_t bytes, std::uint32_t filter_bit) noexcept {
  if (t_busy || p == nullptr) return;
  Busy busy;
  State& s = state();
  std::uintptr_t pcs[kMaxFramesLimit + kAllocatorFrames];
  const int max = std::min(s.max_frames.load(std::memory_order_relaxed) + kAllocatorFrames, kMaxFramesLimit + kAllocatorFrames);
  const int n = capture_stack(pcs, max);
  const auto tid = static_cast<std::uint64_t>(syscall(SYS_gettid));
  try {
    std::lock_guard lock(s.mutex);
    if (!s.active || s.mean <= 0) return;
    std::uint32_t ops[kMaxOperations];
    const int n_ops = s.recorder ? read_open_operations(*s.recorder, ops, kMaxOperations) : -1;
    const std::size_t op_count = n_ops > 0 ? static_cast<std::size_t>(n_ops) : 0;
    // An allocation of `bytes` holds at least one point of the Poisson process with probability
    // 1 - exp(-bytes / mean): it stands for 1 / that probability allocations of its size, i.e.
    // bytes / that probability bytes (pprof's and tcmalloc's unbiased estimate, for both).
    const double size = static_cast<double>(bytes);
    const double objects = 1.0 / -std::expm1(-size / s.mean);
    const auto weight = static_cast<std::uint64_t>(std::llround(size * objects));

    std::string key;
    key.reserve(static_cast<std::size_t>(n) * 8 + op_count * 4 + 12);
    append(key, pcs, static_cast<std::size_t>(n) * sizeof(std::uintptr_t));
    const std::uint32_t separator = 0xFFFFFFFFu;
    append(key, &separator, sizeof separator);
    append(key, ops, op_count * sizeof(std::uint32_t));
    append(key, &tid, sizeof tid);
    auto it = s.stack_ids.find(key);
    if (it == s.stack_ids.end()) {
      if (s.stacks.size() >= s.max_stacks) {
        ++s.dropped;
        return;
      }
      RawStack st;
      st.pcs.assign(pcs, pcs + n);
      st.ops.assign(ops, ops + op_count);
      st.thread = tid;
      it = s.stack_ids.emplace(std::move(key), static_cast<std::uint32_t>(s.stacks.size())).first;
      s.stacks.push_back(std::move(st));
    }
    RawStack& st = s.stacks[it->second];
    st.samples += 1;
    st.bytes += weight;
    st.live += weight;
    st.objects += objects;
    st.live_objects += objects;
    ++s.samples;

    const auto address = reinterpret_cast<std::uintptr_t>(p);
    // The address was sampled before and released without operator delete (free() on memory
    // from new): that allocation is gone.
    if (auto old = s.live.find(address); old != s.live.end()) s.forget(old, filter_bit);
    const std::uint32_t op = op_count ? ops[0] : kNoOperation;
    s.live.emplace(address, LiveAllocation{it->second, op, weight, objects, s.epoch});
    if (s.bit_users[filter_bit]++ == 0) g_filter[filter_bit >> 6].fetch_or(1ull << (filter_bit & 63), std::memory_order_relaxed);

    const auto w = static_cast<std::int64_t>(weight);
    s.live_bytes += w;
    if (s.live_bytes > s.peak_live_bytes) {
      s.peak_live_bytes = s.live_bytes;
      s.peak_at_ns = steady_ns() - s.origin_ns;
    }
    OperationLive& o = s.operations[op];
    o.live += w;
    if (o.live > o.peak) o.peak = o.live;
  } catch (...) {
    // Out of memory inside the sampler: this sample is lost, the program's allocation is not.
  }
}

void AllocSampler::on_free(void* p, std::uint32_t filter_bit) noexcept {
  if (t_busy) return;  // the sampler's own memory is never sampled
  Busy busy;
  State& s = state();
  std::lock_guard lock(s.mutex);
  const auto it = s.live.find(reinterpret_cast<std::uintptr_t>(p));
  if (it != s.live.end()) s.forget(it, filter_bit);
}

struct AllocSampler::Impl {
  std::mutex publish_mutex;  // the symboliser below
  Symbolizer symbolizer;
  mutable std::mutex notes_mutex;
  std::vector<Unavailable> notes;
  bool owner = false;  // this sampler attached the process's state

  void note(std::string what, std::string reason) {
    std::lock_guard lock(notes_mutex);
    for (const auto& n : notes)
      if (n.what == what && n.reason == reason) return;
    notes.push_back({std::move(what), std::move(reason)});
  }
};

AllocSampler::AllocSampler(const Config& config, const detail::RecorderState& recorder, std::int64_t origin_steady_ns,
                           bool allocator_linked) {
  Busy busy;
  impl_ = std::make_unique<Impl>();
  if (!allocator_linked) {
    impl_->note("allocation_sampling",
                "link codeprof::alloc (its operator new samples the allocations; from Python, preload "
                "codeprof.alloc_library()) to sample allocations");
    return;
  }
  // The unwinder loads and initialises itself at its first call; done here, before the program's
  // threads allocate concurrently.
  std::uintptr_t warm_up[4];
  capture_stack(warm_up, 4);
  State& s = state();
  {
    std::lock_guard lock(s.mutex);
    if (s.active) {
      impl_->note("allocation_sampling", "another profiler in this process samples allocations already");
      return;
    }
    s.active = true;
    s.recorder = &recorder;
    s.mean = static_cast<double>(config.sampling.alloc_interval_bytes);
    s.origin_ns = origin_steady_ns;
    s.max_stacks = config.sampling.max_stacks;
    s.max_frames.store(static_cast<int>(std::min<std::uint32_t>(config.sampling.max_frames, kMaxFramesLimit)),
                       std::memory_order_relaxed);
    ++s.epoch;
    s.stacks.clear();
    s.stack_ids.clear();
    s.operations.clear();
    s.live_bytes = s.peak_live_bytes = s.peak_at_ns = 0;
    s.samples = s.dropped = 0;
  }
  static std::once_flag atfork;
  std::call_once(atfork, [] { pthread_atfork(prepare_fork, parent_after_fork, child_after_fork); });
  impl_->owner = true;
  active_ = true;
  interval_bytes_ = config.sampling.alloc_interval_bytes;
}

AllocSampler::~AllocSampler() {
  if (!impl_->owner) return;
  Busy busy;
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.active = false;
  s.recorder = nullptr;
}

void AllocSampler::publish(SampleStore& store) {
  if (!active_) return;
  Busy busy;
  std::lock_guard publish_lock(impl_->publish_mutex);
  State& s = state();
  std::vector<RawStack> stacks;
  {
    std::lock_guard lock(s.mutex);
    stacks = s.stacks;
  }
  // Symbolised outside the state's lock: a module seen for the first time takes milliseconds.
  std::vector<std::vector<ProfileFrame>> symbolised(stacks.size());
  for (std::size_t i = 0; i < stacks.size(); ++i) {
    std::vector<ProfileFrame>& frames = symbolised[i];
    for (const std::uintptr_t pc : stacks[i].pcs) {
      const auto& at = impl_->symbolizer.frames(pc - 1);  // return address -> the call
      frames.insert(frames.end(), at.begin(), at.end());
    }
    // The stack starts at the caller of operator new: below the outermost allocator frame.
    std::size_t cut = 0;
    for (std::size_t f = 0; f < frames.size() && f < 3 * kAllocatorFrames; ++f)
      if (is_allocator_frame(frames[f])) cut = f + 1;
    frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(cut));
    const auto max_frames = static_cast<std::size_t>(s.max_frames.load(std::memory_order_relaxed));
    if (frames.size() > max_frames) frames.resize(max_frames);
  }
  for (auto& n : impl_->symbolizer.take_notes()) impl_->note(n.what, n.reason);
  auto w = store.writer();
  w.clear_alloc();
  std::vector<std::uint32_t> ids;
  for (std::size_t i = 0; i < stacks.size(); ++i) {
    ids.clear();
    for (const ProfileFrame& f : symbolised[i]) ids.push_back(w.intern(f));
    const RawStack& st = stacks[i];
    // live_objects may sit a rounding error below zero after its last free.
    const auto count = [](double x) { return x > 0.5 ? static_cast<std::uint64_t>(std::llround(x)) : std::uint64_t{0}; };
    w.add_alloc(ids, st.ops, st.thread, {st.samples, st.bytes, st.live, count(st.objects), count(st.live_objects)});
  }
}

void AllocSampler::fill(Snapshot& snap) const {
  if (!active_) return;
  Busy busy;
  State& s = state();
  std::lock_guard lock(s.mutex);
  SamplingInfo& info = snap.sampling;
  info.alloc_interval_bytes = interval_bytes_;
  info.alloc_samples = s.samples;
  info.alloc_peak_live_bytes = s.peak_live_bytes;
  info.alloc_peak_at_ns = s.peak_at_ns;
  for (OperationStats& op : snap.operations)
    if (const auto it = s.operations.find(op.id); it != s.operations.end()) op.peak_live_sampled_bytes = it->second.peak;
  if (s.dropped > 0) {
    const std::string reason = std::to_string(s.dropped) + " sampled allocations dropped: more than sampling.max_stacks (" +
                               std::to_string(s.max_stacks) + ") distinct allocation stacks";
    info.unavailable.push_back({"allocation_sampling", reason});
  }
}

void AllocSampler::reset(std::int64_t origin_steady_ns) {
  if (!active_) return;
  Busy busy;
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.origin_ns = origin_steady_ns;
  ++s.epoch;
  s.stacks.clear();
  s.stack_ids.clear();
  s.operations.clear();
  s.live_bytes = s.peak_live_bytes = s.peak_at_ns = 0;
  s.samples = s.dropped = 0;
}

std::vector<Unavailable> AllocSampler::unavailable() const {
  std::lock_guard lock(impl_->notes_mutex);
  return impl_->notes;
}

}  // namespace codeprof::sampling
