#include "sampling/cpu_sampler.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <new>
#include <utility>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "codeprof/detail/recording_thread.hpp"
#include "core/fibonacci_hash.hpp"
#include "codeprof/detail/ticks.hpp"
#include "sampling/copied_stack_unwinder.hpp"
#include "sampling/local_unwinder.hpp"
#include "sampling/open_operations.hpp"
#include "sampling/perf_sample_ring.hpp"
#include "sampling/sample_ring.hpp"
#include "sampling/symbolizer.hpp"

namespace codeprof::sampling {
namespace {

constexpr int kSignal = SIGPROF;
constexpr int kMaxOperations = 32;
constexpr int kMaxFramesLimit = 256;
constexpr std::size_t kSlots = 4096;  // threads sampled at once, at most
constexpr pid_t kTombstone = -1;
// How often the sampler's thread drains the rings and arms new threads (a thread that lives
// shorter than a tick may never be sampled).
constexpr std::chrono::milliseconds kTick{20};
// perf_ring: bytes of stack the kernel copies per sample (perf record --call-graph dwarf's default;
// deeper stacks lose their outermost frames), and samples a ring holds.
constexpr std::uint32_t kStackCopyBytes = 8192;
constexpr std::uint32_t kRingSamples = 48;

pid_t current_tid() noexcept { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Inherited rings stamp samples with CLOCK_MONOTONIC (attr.clockid), the clock detail::steady_ns()
// reads. Samples stamped up to this long before the rings are read may still be being written on
// another CPU; they are matched at the next drain.
constexpr std::uint64_t kSampleInFlightNs = 2'000'000;

// How the sampler's thread unwinds the stack copies the kernel writes into the rings.
const PerfSampleRing::Unwind& copied_stack_unwind() {
  static const PerfSampleRing::Unwind unwind = [](const std::uint64_t* registers, const unsigned char* stack,
                                                  std::size_t size, std::uintptr_t* pcs, int max) {
    return CopiedStackUnwinder::get().unwind(registers, stack, size, pcs, max);
  };
  return unwind;
}

// ---- state shared with the signal handler. Only atomics; nothing here is ever freed.

struct ThreadState;

// Open addressing by thread id. A handler compares tids only (never dereferences another
// thread's state) and marks its slot busy while it uses the state, so the sampler's thread can
// take a state away safely: clear the pointer, wait until the slot is not busy, free.
struct Slot {
  std::atomic<pid_t> tid{0};
  std::atomic<ThreadState*> state{nullptr};
  std::atomic<int> busy{0};
};
Slot g_slots[kSlots];

std::atomic<const detail::RecorderState*> g_recorder{nullptr};
std::atomic<bool> g_all_threads{false};
std::atomic<int> g_max_frames{64};

std::size_t slot_start(pid_t tid) noexcept { return (static_cast<std::size_t>(tid) * 2654435761u) % kSlots; }

Slot* find_slot(pid_t tid) noexcept {
  for (std::size_t i = 0, at = slot_start(tid); i < kSlots; ++i, at = (at + 1) % kSlots) {
    const pid_t t = g_slots[at].tid.load(std::memory_order_acquire);
    if (t == tid) return &g_slots[at];
    if (t == 0) return nullptr;
  }
  return nullptr;
}

// The sampler's thread only (one writer).
Slot* insert_slot(pid_t tid, ThreadState* st) noexcept {
  Slot* reuse = nullptr;
  for (std::size_t i = 0, at = slot_start(tid); i < kSlots; ++i, at = (at + 1) % kSlots) {
    const pid_t t = g_slots[at].tid.load(std::memory_order_relaxed);
    if (t == kTombstone && !reuse) reuse = &g_slots[at];
    if (t == 0) {
      if (!reuse) reuse = &g_slots[at];
      break;
    }
  }
  if (!reuse) return nullptr;
  reuse->state.store(st, std::memory_order_seq_cst);
  reuse->tid.store(tid, std::memory_order_seq_cst);
  return reuse;
}

void remove_slot(Slot* slot) noexcept {
  slot->state.store(nullptr, std::memory_order_seq_cst);
  while (slot->busy.load(std::memory_order_seq_cst) != 0) sched_yield();
  slot->tid.store(kTombstone, std::memory_order_seq_cst);
}

struct ThreadState {
  ThreadState(pid_t t, std::uint64_t start, std::uint32_t words) : tid(t), start_time(start), ring(words) {}
  pid_t tid;
  std::uint64_t start_time;  // from /proc: tells a reused thread id from the thread that had it
  SampleRing ring;
  Slot* slot = nullptr;
  int perf_fd = -1;
  timer_t timer{};
  bool has_timer = false;
  std::string mechanism;
  std::uint64_t dropped_seen = 0;

  // perf_ring: the kernel's ring, the thread's buffer (its marks say which operations each sample
  // was taken under; none for a thread that never ran a scope), samples read but not yet matched.
  // A thread under the inherited per-CPU events (cpu_positions set) has no ring of its own: its
  // samples are picked out of the CPU rings by thread id, and `end`, positions and marks are times.
  std::unique_ptr<PerfSampleRing> kernel_ring;
  const detail::CpuSamplePositions* cpu_positions = nullptr;
  std::atomic<const std::uint64_t*> ring_word{nullptr};  // its position word, once sampling
  std::shared_ptr<const detail::ThreadBuffer> buffer;
  // The buffer a thread armed before its first scope attached itself to (on_thread_attached), until
  // the sampler's thread finds it in the recorder's list.
  std::atomic<const detail::ThreadBuffer*> hooked_buffer{nullptr};
  struct Unmarked {
    std::uint64_t end;  // ring position after the sample (under CPU rings: its time)
    std::vector<std::uintptr_t> pcs;
  };
  std::deque<Unmarked> unmarked;
  std::uint64_t attached_at = 0;  // ring position when the thread was told to mark: older samples have no marks
  std::uint64_t lost = 0;         // samples the kernel could not write (its ring was full), not yet counted
  std::uint64_t last_mark_position = 0;
  bool marked_once = false;
  bool unsorted = false;  // CPU rings: samples appended out of time order since the last sort
};

// Rings of threads that were still alive when their sampler stopped: their position word may still
// be read by the thread, so the mapping (zeros now) stays until the thread's buffer is closed.
std::mutex g_parked_mutex;
std::vector<std::pair<std::shared_ptr<const detail::ThreadBuffer>, PerfSampleRing::Parked>> g_parked;

// Per-CPU rings of stopped samplers, zeros now: threads may still read a position in them, so the
// next sampler maps its rings over them rather than elsewhere.
std::vector<PerfSampleRing::Parked> g_idle_cpu_rings;  // g_parked_mutex

// Rings parked without a buffer (a thread that attached itself and was stopped before the sampler
// found its buffer) stay: nothing tells when that thread stops looking.
void release_parked_rings() {
  std::lock_guard lock(g_parked_mutex);
  std::erase_if(g_parked, [&](const auto& p) {
    if (!p.first || !p.first->closed.load(std::memory_order_acquire)) return false;
    PerfSampleRing::release(p.second);
    return true;
  });
}

const LocalUnwinder* g_unwinder = nullptr;  // set before the handler is installed

int unwind(void* ucontext, std::uintptr_t* pcs, int max) noexcept {
  const LocalUnwinder* u = g_unwinder;
  return u && ucontext ? u->capture(ucontext, pcs, max) : 0;
}

void on_signal(int, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
  const pid_t tid = current_tid();
  if (Slot* slot = find_slot(tid)) {
    slot->busy.store(1, std::memory_order_seq_cst);
    ThreadState* st = slot->state.load(std::memory_order_seq_cst);
    const detail::RecorderState* recorder = g_recorder.load(std::memory_order_acquire);
    if (st && recorder) {
      std::uint32_t ops[kMaxOperations];
      int n_ops = read_open_operations(*recorder, ops, kMaxOperations);
      if (n_ops >= 0 || g_all_threads.load(std::memory_order_relaxed)) {
        std::uintptr_t pcs[kMaxFramesLimit];
        const int n = unwind(ucontext, pcs, g_max_frames.load(std::memory_order_relaxed));
        // A CPU-clock POSIX timer is checked at scheduler ticks: expirations between two ticks
        // arrive as one signal with an overrun count. The sample stands for all of them.
        const std::uint32_t weight =
            info && info->si_code == SI_TIMER && info->si_overrun > 0 ? 1u + static_cast<std::uint32_t>(info->si_overrun) : 1u;
        st->ring.push({ops, static_cast<std::size_t>(n_ops < 0 ? 0 : n_ops)}, {pcs, static_cast<std::size_t>(n)}, weight);
      }
    }
    slot->busy.store(0, std::memory_order_release);
  }
  errno = saved_errno;
}

// In a forked child only the forking thread exists: the parent's sampler thread is gone, its
// locks may be held for ever, and inherited perf event descriptors belong to the parent's
// threads. The child is not sampled; its copy of the sampler does nothing from then on.
std::atomic<pid_t> g_owner_pid{0};
std::atomic<std::vector<std::unique_ptr<PerfSampleRing>>*> g_cpu_rings{nullptr};  // the owner's, if any

void in_forked_child() {
  for (Slot& slot : g_slots) {
    ThreadState* st = slot.state.load(std::memory_order_relaxed);
    if (st && st->perf_fd >= 0) close(st->perf_fd);
    // fork does not copy a perf ring's mapping; the recorder's own fork handler tells the forking
    // thread to stop reading its position word (ThreadBuffer::discard_statistics).
    if (st && st->kernel_ring) st->kernel_ring->abandon_in_forked_child();
    slot.state.store(nullptr, std::memory_order_relaxed);
    slot.tid.store(0, std::memory_order_relaxed);
  }
  if (auto* rings = g_cpu_rings.load(std::memory_order_relaxed))
    for (auto& ring : *rings)
      if (ring) ring->abandon_in_forked_child();
  g_recorder.store(nullptr);
}

// A thread armed before its first scope (found in /proc, or the thread that started the sampler)
// starts marking its samples at that scope, on that thread, instead of a tick later.
void on_thread_attached(detail::ThreadBuffer& buffer) noexcept {
  Slot* slot = find_slot(current_tid());
  if (!slot) return;
  slot->busy.store(1, std::memory_order_seq_cst);
  ThreadState* st = slot->state.load(std::memory_order_seq_cst);
  if (const std::uint64_t* word = st ? st->ring_word.load(std::memory_order_acquire) : nullptr) {
    if (auto* marks = new (std::nothrow) detail::SampleMarks()) {
      const bool by_time = word == &detail::kMarkByCpuRing;
      marks->start_position = by_time ? detail::steady_ns() : __atomic_load_n(word, __ATOMIC_ACQUIRE);
      detail::SampleMarks* none = nullptr;
      if (buffer.sample_marks.compare_exchange_strong(none, marks, std::memory_order_acq_rel)) {
        st->hooked_buffer.store(&buffer, std::memory_order_release);
        if (by_time) buffer.cpu_positions.store(st->cpu_positions, std::memory_order_release);
        buffer.sample_position.store(word, std::memory_order_release);
      } else {
        delete marks;  // the sampler's thread attached it meanwhile
      }
    }
  }
  slot->busy.store(0, std::memory_order_release);
}

// The thread's start time (field 22 of its stat file), 0 when it cannot be read. Read with
// read(2), never through an ifstream: a thread that exits between the open and the read fails
// the read with ESRCH, and libstdc++'s filebuf throws on that whatever the stream's exception
// mask, which on the sampler's thread would end the program.
std::uint64_t thread_start_time(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];  // pid (comm) and 50 numbers: comm is at most 16 bytes
  std::size_t size = 0;
  for (ssize_t n = 0; size < sizeof buf; size += static_cast<std::size_t>(n)) {
    n = ::read(fd, buf + size, sizeof buf - size);
    if (n < 0 && errno == EINTR) {
      n = 0;
      continue;
    }
    if (n <= 0) break;
  }
  ::close(fd);
  const std::string text(buf, size);
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

std::vector<pid_t> process_threads() {
  std::vector<pid_t> tids;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (const dirent* e = readdir(dir))
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') tids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    closedir(dir);
  }
  return tids;
}

std::string perf_paranoid() {
  std::ifstream in("/proc/sys/kernel/perf_event_paranoid");
  std::string v;
  in >> v;
  return v.empty() ? "?" : v;
}

}  // namespace

struct CpuSampler::Impl {
  Impl(const Config& c, detail::RecorderState& rec, SampleStore& s, ScopeThreads scopes)
      : recorder(rec),
        store(s),
        scope_threads(std::move(scopes)),
        frequency_hz(c.sampling.frequency_hz),
        all_threads(c.sampling.all_threads),
        mechanism(c.sampling_mechanism),
        max_frames(static_cast<int>(std::min<std::uint32_t>(c.sampling.max_frames, kMaxFramesLimit))),
        ring_words(c.sampling.buffer_samples * (1 + kMaxOperations / 4 + c.sampling.max_frames)) {}

  detail::RecorderState& recorder;
  SampleStore& store;
  const ScopeThreads scope_threads;
  const std::uint32_t frequency_hz;
  const bool all_threads;
  const std::string mechanism;  // requested: auto, perf_ring, perf_event, timer
  const int max_frames;
  const std::uint32_t ring_words;
  bool copied_stacks = false;  // perf_ring samples carry a stack copy (else frame-pointer call chains)
  std::atomic<bool> frame_pointer_chains{false};  // a ring was armed without copied stacks

  mutable std::mutex notes_mutex;
  std::vector<Unavailable> notes;
  bool perf_denied = false;  // auto: perf_event failed once, use the timer from then on
  bool ring_denied = false;  // auto: perf_ring failed once (e.g. out of lockable memory), use the signal

  std::mutex drain_mutex;  // threads, the symboliser, the pc cache, the CPU rings
  std::unordered_map<pid_t, std::unique_ptr<ThreadState>> threads;

  // perf_ring as `perf record` opens its events: one cpu-clock event per CPU on the thread that
  // starts the sampler, inherited by the threads it (and they) create from then on. Threads whose
  // events are clones of one another switch without stopping and restarting the event's timer,
  // which with an event per thread costs each switch ~13 µs on a virtual machine (docs/PROBES.md).
  // Threads that existed before, and their children, get an event of their own.
  struct CpuRings {
    std::vector<std::unique_ptr<PerfSampleRing>> rings;  // by CPU; null where none
    std::vector<bool> hung_up;                           // every thread under it exited: no more polling
    detail::CpuSamplePositions* positions = nullptr;     // kept: a thread may read it at any scope
    std::unordered_set<pid_t> inherited;                 // threads under the events now
    std::uint64_t ready = 0;  // samples stamped up to this time have all been read
  };
  std::unique_ptr<CpuRings> cpu;
  Symbolizer symbolizer;
  std::unordered_map<std::uintptr_t, std::vector<std::uint32_t>> frame_ids;  // pc -> store frame ids
  // frame_ids of the addresses met last: deep stacks repeat their outer frames sample after sample,
  // and a slot here is one compare where frame_ids (tens of thousands of entries) costs a cache
  // miss or two. frame_ids never forgets an address, so what a slot points to stays.
  struct RecentFrames {
    std::uintptr_t pc = 0;
    const std::vector<std::uint32_t>* ids = nullptr;
  };
  static constexpr unsigned kRecentFramesBits = 12;
  std::array<RecentFrames, std::size_t{1} << kRecentFramesBits> recent_frames{};

  const std::vector<std::uint32_t>& frame_ids_of(std::uintptr_t pc) {
    RecentFrames& r = recent_frames[core::fibonacci_slot(pc, kRecentFramesBits)];
    if (r.pc != pc || !r.ids) r = {pc, &frame_ids[pc]};
    return *r.ids;
  }
  pid_t own_tid = 0;

  // The sampler's thread sleeps in poll(): on this eventfd (stop), on the kernel rings (3/4 full)
  // and for at most a tick.
  int wake_fd = -1;
  std::atomic<bool> stop_requested{false};
  // The sampler threads' CPU time, as of the running one's last drain; ended_threads_cpu_ns is
  // written by each thread as it ends, read by the next one (started after the join).
  std::atomic<std::uint64_t> own_cpu_ns{0};
  std::uint64_t ended_threads_cpu_ns = 0;

  void note_own_cpu() noexcept {
    timespec t{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0)
      own_cpu_ns.store(ended_threads_cpu_ns + static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000u +
                       static_cast<std::uint64_t>(t.tv_nsec));
  }
  std::thread worker;

  void note(std::string what, std::string reason) {
    std::lock_guard lock(notes_mutex);
    for (const auto& n : notes)
      if (n.what == what && n.reason == reason) return;
    notes.push_back({std::move(what), std::move(reason)});
  }

  bool forked() const noexcept { return g_owner_pid.load() != getpid(); }

  bool arm_perf(ThreadState& st) {
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = 1'000'000'000ull / frequency_hz;  // cpu-clock counts nanoseconds
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    const int fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, st.tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) {
      const int err = errno;
      if (err == ESRCH) return false;  // the thread is gone
      note("sampling_perf_event", std::string("perf_event_open (software cpu-clock, user space) failed: ") + std::strerror(err) +
                                      " (kernel.perf_event_paranoid = " + perf_paranoid() + ")");
      if (mechanism == "auto") perf_denied = true;
      return false;
    }
    f_owner_ex owner{F_OWNER_TID, st.tid};
    if (fcntl(fd, F_SETFL, O_ASYNC) != 0 || fcntl(fd, F_SETSIG, kSignal) != 0 || fcntl(fd, F_SETOWN_EX, &owner) != 0 ||
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
      note("sampling_perf_event", std::string("cannot route perf events to a signal: ") + std::strerror(errno));
      close(fd);
      if (mechanism == "auto") perf_denied = true;
      return false;
    }
    st.perf_fd = fd;
    st.mechanism = "perf_event";
    return true;
  }

  bool arm_timer(ThreadState& st) {
    // The thread's CPU clock, as pthread_getcpuclockid builds it from a thread id.
    const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(st.tid) << 3) | 6u);
    sigevent ev{};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = kSignal;
    ev._sigev_un._tid = st.tid;  // sigev_notify_thread_id (glibc does not name it)
    if (timer_create(clock, &ev, &st.timer) != 0) {
      if (errno != EINVAL && errno != ESRCH)
        note("sampling_timer", std::string("timer_create on the thread CPU clock failed: ") + std::strerror(errno));
      return false;
    }
    const long period = static_cast<long>(1'000'000'000ull / frequency_hz);
    itimerspec spec{{period / 1'000'000'000, period % 1'000'000'000}, {period / 1'000'000'000, period % 1'000'000'000}};
    if (timer_settime(st.timer, 0, &spec, nullptr) != 0) {
      note("sampling_timer", std::string("timer_settime failed: ") + std::strerror(errno));
      timer_delete(st.timer);
      return false;
    }
    st.has_timer = true;
    st.mechanism = "timer";
    return true;
  }

  // The kernel writes the samples into a ring; the thread marks its open operations. No signal.
  PerfSampleRing::Options ring_options(bool inherited) const {
    PerfSampleRing::Options options;
    options.frequency_hz = frequency_hz;
    options.max_frames = max_frames;
    options.inherited = inherited;
    if (copied_stacks) {
      options.stacks = PerfSampleRing::Stacks::copied_stack;
      options.sample_regs_user = CopiedStackUnwinder::kSampleRegsUser;
      options.stack_bytes = kStackCopyBytes;
    }
    // Room for kRingSamples (the reader is woken at 3/4).
    options.data_pages = std::max<std::uint32_t>(16, PerfSampleRing::pages_for(options, kRingSamples));
    return options;
  }

  // An unprivileged user may lock only kernel.perf_event_mlock_kb (516 KiB per CPU) of rings, then
  // RLIMIT_MEMLOCK: a quarter as much, if need be.
  static std::unique_ptr<PerfSampleRing> open_ring(pid_t tid, PerfSampleRing::Options options, std::string& error,
                                                   int& error_number) {
    auto ring = PerfSampleRing::open(tid, options, error, error_number);
    for (int smaller = 0; !ring && (error_number == EPERM || error_number == ENOMEM) && smaller < 2 && options.data_pages >= 16;
         ++smaller) {
      options.data_pages /= 4;
      options.map_at = nullptr;  // a region of the first size
      ring = PerfSampleRing::open(tid, options, error, error_number);
    }
    return ring;
  }

  bool arm_ring(ThreadState& st, const std::shared_ptr<const detail::ThreadBuffer>& buffer) {
    std::string error;
    int error_number = 0;
    st.kernel_ring = open_ring(st.tid, ring_options(false), error, error_number);
    if (!st.kernel_ring) {
      if (error_number == ESRCH) return false;  // the thread is gone
      note("sampling_perf_ring", error + " (kernel.perf_event_paranoid = " + perf_paranoid() + ")");
      if (mechanism == "auto") ring_denied = true;
      return false;
    }
    if (buffer) attach_marks(st, buffer);
    if (!st.kernel_ring->enable()) {
      note("sampling_perf_ring", std::string("cannot enable the sampling event: ") + std::strerror(errno));
      release_ring(st, true);
      if (mechanism == "auto") ring_denied = true;
      return false;
    }
    st.mechanism = "perf_ring";
    st.ring_word.store(st.kernel_ring->position_word(), std::memory_order_release);
    if (!copied_stacks) frame_pointer_chains = true;
    return true;
  }

  // A thread under the CPU rings (it inherited their events): no event of its own; it marks by time.
  bool arm_inherited(ThreadState& st, const std::shared_ptr<const detail::ThreadBuffer>& buffer) {
    st.cpu_positions = cpu->positions;
    st.mechanism = "perf_ring";
    if (buffer) attach_marks(st, buffer);
    st.ring_word.store(&detail::kMarkByCpuRing, std::memory_order_release);
    if (!copied_stacks) frame_pointer_chains = true;
    return true;
  }

  // Tells the thread where its ring's write position is, so that its scopes mark their samples (under
  // the CPU rings: where every CPU's ring keeps it, and its marks carry times).
  static void attach_marks(ThreadState& st, const std::shared_ptr<const detail::ThreadBuffer>& buffer) {
    st.buffer = buffer;
    const bool by_time = st.cpu_positions != nullptr;
    const std::uint64_t* word = by_time ? &detail::kMarkByCpuRing : st.kernel_ring->position_word();
    if (buffer->sample_position.load(std::memory_order_acquire) == word &&
        (!by_time || buffer->cpu_positions.load(std::memory_order_acquire) == st.cpu_positions)) {  // on_thread_attached did
      st.attached_at = buffer->sample_marks.load(std::memory_order_acquire)->start_position;
      return;
    }
    detail::SampleMarks* marks = buffer->sample_marks.load(std::memory_order_acquire);
    if (!marks) {
      auto* fresh = new detail::SampleMarks();
      if (buffer->sample_marks.compare_exchange_strong(marks, fresh, std::memory_order_acq_rel)) marks = fresh;
      else delete fresh;  // the thread's first scope attached it meanwhile (marks is its)
    }
    // Marks of an earlier sampler's ring are of no use; skip them.
    marks->taken.store(marks->written.load(std::memory_order_acquire), std::memory_order_release);
    if (!by_time) st.attached_at = st.kernel_ring->position();
    st.hooked_buffer.store(buffer.get(), std::memory_order_release);
    if (by_time) buffer->cpu_positions.store(st.cpu_positions, std::memory_order_release);
    buffer->sample_position.store(word, std::memory_order_release);
    // Stamped once the thread can see it must mark: its changes before then are not marked, and
    // samples taken before are in no operation the sampler can name.
    if (by_time) st.attached_at = detail::steady_ns();
  }

  // Tells the thread to stop reading the ring, then unmaps it; while the thread may still read the
  // position word (alive, or its buffer not closed yet, or attached through on_thread_attached),
  // the mapping is replaced by zeros and kept until the thread's buffer is closed.
  static void release_ring(ThreadState& st, bool thread_alive) {
    // Under the CPU rings the thread reads positions that are kept; it only has to stop marking.
    if (st.cpu_positions && st.buffer) st.buffer->sample_position.store(nullptr, std::memory_order_release);
    if (!st.kernel_ring) return;
    if (st.buffer) st.buffer->sample_position.store(nullptr, std::memory_order_release);
    // A hooked buffer that is not st.buffer belongs to a thread that reused an exited one's id.
    const detail::ThreadBuffer* hooked = st.hooked_buffer.load(std::memory_order_acquire);
    const bool may_be_read = (st.buffer && (thread_alive || !st.buffer->closed.load(std::memory_order_acquire))) ||
                             (hooked && hooked != st.buffer.get());
    if (may_be_read) {
      const PerfSampleRing::Parked parked = st.kernel_ring->park();
      std::lock_guard lock(g_parked_mutex);
      // Released when that buffer is closed; never when another thread's buffer reads it.
      g_parked.emplace_back(hooked && hooked != st.buffer.get() ? nullptr : st.buffer, parked);
    }
    st.kernel_ring.reset();
  }

  void arm(pid_t tid, const std::shared_ptr<const detail::ThreadBuffer>& buffer) {
    auto st = std::make_unique<ThreadState>(tid, thread_start_time(tid), ring_words);
    st->slot = insert_slot(tid, st.get());
    if (!st->slot) {
      note("sampling_threads", "more than " + std::to_string(kSlots) + " threads: the others are not sampled");
      return;
    }
    bool armed = false;
    if (cpu && cpu->inherited.count(tid)) armed = arm_inherited(*st, buffer);
    if (!armed && (mechanism == "perf_ring" || (mechanism == "auto" && !ring_denied))) armed = arm_ring(*st, buffer);
    if (!armed && (mechanism == "perf_event" || (mechanism == "auto" && !perf_denied))) armed = arm_perf(*st);
    if (!armed && (mechanism == "timer" || mechanism == "auto")) armed = arm_timer(*st);
    if (!armed) {
      remove_slot(st->slot);
      return;
    }
    threads.emplace(tid, std::move(st));
  }

  // Disarms, waits for a handler that may be running on the thread, drains, frees.
  void retire(std::unordered_map<pid_t, std::unique_ptr<ThreadState>>::iterator it, bool keep_samples, bool thread_alive) {
    ThreadState& st = *it->second;
    if (st.perf_fd >= 0) close(st.perf_fd);
    if (st.has_timer) timer_delete(st.timer);
    remove_slot(st.slot);
    // No new samples, then the last ones matched while the thread still marks them, then it stops
    // reading the ring.
    if (st.kernel_ring) st.kernel_ring->disable();
    // Under the CPU rings: its last samples are read first; an exited thread (or a stopped sampler,
    // whose events are disabled) has no sample still being written.
    if (st.cpu_positions) pull_cpu_rings();
    drain_thread(st, keep_samples, true);
    release_ring(st, thread_alive);
    threads.erase(it);
  }

  // Arms new threads, retires those that exited. drain_mutex held. When only scope threads are
  // sampled, their list (from the recorder) is checked every tick, and /proc/self/task, which
  // only serves to retire exited threads then, every kFullScanTicks-th tick.
  static constexpr unsigned kFullScanTicks = 5;
  std::uint64_t ticks = 0, full_scans = 0;
  using Buffers = std::unordered_map<pid_t, std::shared_ptr<const detail::ThreadBuffer>>;
  // The buffers of the threads that run scopes, by thread id.
  Buffers recording_buffers() const {
    Buffers buffers;
    if (scope_threads)
      for (detail::RecordingThread& t : scope_threads()) buffers.emplace(static_cast<pid_t>(t.os_tid), std::move(t.buffer));
    return buffers;
  }

  void rescan() {
    const bool scope_only = !all_threads && scope_threads;
    const Buffers buffers = recording_buffers();
    // Which threads inherited the events: a listed thread ran a scope, so its start record (written
    // before it first ran) is in the rings now.
    pull_cpu_rings();
    if (!scope_only || ticks++ % kFullScanTicks == 0) scan_process_threads(!scope_only, buffers);
    if (scope_only)
      for (const auto& [tid, buffer] : buffers)
        if (tid != own_tid && !threads.count(tid)) arm(tid, buffer);
    attach_found_buffers(buffers);
    release_parked_rings();
  }

  // A thread armed before it ran its first scope gets its marks now (or attached itself meanwhile).
  void attach_found_buffers(const Buffers& buffers) {
    for (auto& [tid, st] : threads)
      if ((st->kernel_ring || st->cpu_positions) && !st->buffer)
        if (const auto b = buffers.find(tid); b != buffers.end()) attach_marks(*st, b->second);
  }

  void scan_process_threads(bool arm_new, const Buffers& buffers) {
    ++full_scans;
    const std::vector<pid_t> now = process_threads();
    // An empty listing is a failure to read /proc (out of descriptors): nobody is taken for exited.
    for (auto it = threads.begin(); !now.empty() && it != threads.end();) {
      // A thread id that vanished and came back between two scans would be taken for the same
      // thread; its start time is compared only every 50th scan, which keeps a scan to one
      // directory listing.
      bool alive = std::find(now.begin(), now.end(), it->first) != now.end();
      if (alive && full_scans % 50 == 0) {
        const std::uint64_t start = thread_start_time(it->first);
        alive = start == it->second->start_time || start == 0;  // 0: unreadable, no proof of exit
      }
      if (alive) ++it;
      else {
        auto next = std::next(it);
        retire(it, true, false);
        it = next;
      }
    }
    if (arm_new)
      for (const pid_t tid : now)
        if (tid != own_tid && !threads.count(tid)) {
          const auto b = buffers.find(tid);
          arm(tid, b == buffers.end() ? nullptr : b->second);
        }
  }

  struct Pending {
    std::vector<std::uint32_t> ops;
    std::vector<std::uintptr_t> pcs;
    std::uint32_t weight;
    pid_t tid;
    const std::string* mechanism;
    bool inherited = false;  // came through the CPU rings
  };
  std::vector<Pending> pending;

  void drain_thread(ThreadState& st, bool keep, bool last = false) {
    drain_one(st, keep, last);
    if (keep) publish();
  }

  void drain_one(ThreadState& st, bool keep, bool last = false) {
    if (st.cpu_positions) return match_marks(st, keep, last ? UINT64_MAX : cpu ? cpu->ready : 0);
    st.ring.drain([&](std::span<const std::uint32_t> ops, std::span<const std::uintptr_t> pcs, std::uint32_t weight) {
      if (keep) pending.push_back({{ops.begin(), ops.end()}, {pcs.begin(), pcs.end()}, weight, st.tid, &st.mechanism});
    });
    const std::uint64_t dropped = st.ring.dropped();
    if (dropped != st.dropped_seen && keep) store.writer().add_dropped(st.mechanism, dropped - st.dropped_seen);
    st.dropped_seen = dropped;
    if (st.kernel_ring) {
      pull(st);
      match_marks(st, keep, UINT64_MAX);
    }
  }

  // Moves the samples the kernel wrote into st.unmarked (unwinding copied stacks), freeing its ring.
  void pull(ThreadState& st) {
    st.lost += st.kernel_ring->read(st.kernel_ring->position(), copied_stack_unwind(), [&](const PerfSampleRing::Sample& s) {
      std::vector<std::uintptr_t> pcs = take_spare(spare_pcs);
      pcs.assign(s.pcs.begin(), s.pcs.end());
      st.unmarked.push_back({s.end, std::move(pcs)});
    });
  }

  // Vectors of published samples, kept for the next ones: a thousand samples a second would
  // otherwise allocate and free two each.
  static constexpr std::size_t kSpareVectors = 1024;
  std::vector<std::vector<std::uintptr_t>> spare_pcs;
  std::vector<std::vector<std::uint32_t>> spare_ops;
  template <typename T>
  static std::vector<T> take_spare(std::vector<std::vector<T>>& spare) {
    if (spare.empty()) return {};
    std::vector<T> v = std::move(spare.back());
    spare.pop_back();
    v.clear();
    return v;
  }

  // Opens the CPU rings on the calling thread (the one that starts the sampler), after the sampler's
  // own thread exists: it must not inherit them. Only when the sampled threads are the ones that
  // run scopes (a thread found in /proc may not have started under the events yet).
  void open_cpu_rings() {
    if (!(mechanism == "perf_ring" || (mechanism == "auto" && !ring_denied)) || all_threads || !scope_threads) return;
    auto rings = std::make_unique<CpuRings>();
    const long configured = std::max(1L, sysconf(_SC_NPROCESSORS_CONF));
    // A CPU's ring takes the samples of every thread that runs there, and its reader may have to
    // wait for a CPU behind busy threads: four per-thread rings' worth (8 KiB stacks: 2 MiB) up to
    // 16 CPUs, less on bigger machines (at least one thread's worth).
    PerfSampleRing::Options options = ring_options(true);
    const auto samples = static_cast<std::uint32_t>(std::clamp<long>(4 * kRingSamples * 16 / configured, kRingSamples, 4 * kRingSamples));
    options.data_pages = std::max<std::uint32_t>(16, PerfSampleRing::pages_for(options, samples));
    for (long c = 0; c < configured; ++c) {
      options.cpu = static_cast<int>(c);
      options.map_at = nullptr;
      {
        std::lock_guard lock(g_parked_mutex);
        const auto idle = std::find_if(g_idle_cpu_rings.begin(), g_idle_cpu_rings.end(),
                                       [&](const auto& p) { return p.size == PerfSampleRing::mapping_bytes(options); });
        if (idle != g_idle_cpu_rings.end()) {
          options.map_at = idle->at;
          g_idle_cpu_rings.erase(idle);
        }
      }
      std::string error;
      int error_number = 0;
      auto ring = open_ring(0, options, error, error_number);
      if (options.map_at && (!ring || ring->mapped_at() != options.map_at)) {  // still zeros: for the next one
        std::lock_guard lock(g_parked_mutex);
        g_idle_cpu_rings.push_back({options.map_at, PerfSampleRing::mapping_bytes(options)});
      }
      if (!ring && error_number != ENODEV) {  // ENODEV: an offline CPU
        note("sampling_perf_ring", "one event per CPU, inherited by new threads: " + error +
                                       "; every thread gets an event of its own instead");
        park_cpu_rings(*rings);
        return;
      }
      rings->rings.push_back(std::move(ring));
    }
    for (auto& ring : rings->rings)
      if (ring && !ring->enable()) {
        note("sampling_perf_ring", std::string("cannot enable the per-CPU sampling events: ") + std::strerror(errno) +
                                       "; every thread gets an event of its own instead");
        park_cpu_rings(*rings);
        return;
      }
    rings->hung_up.assign(rings->rings.size(), false);
    // Read by any thread at any scope from now on, so never freed (a few words per sampler run).
    static auto* const kept = new std::vector<std::pair<std::unique_ptr<const std::uint64_t*[]>,
                                                        std::unique_ptr<detail::CpuSamplePositions>>>();
    auto words = std::make_unique<const std::uint64_t*[]>(rings->rings.size());
    for (std::size_t c = 0; c < rings->rings.size(); ++c) words[c] = rings->rings[c] ? rings->rings[c]->position_word() : nullptr;
    auto positions = std::make_unique<detail::CpuSamplePositions>();
    positions->cpus = static_cast<std::uint32_t>(rings->rings.size());
    positions->words = words.get();
    rings->positions = positions.get();
    {
      std::lock_guard lock(g_parked_mutex);
      kept->emplace_back(std::move(words), std::move(positions));
    }
    rings->inherited.insert(current_tid());
    cpu = std::move(rings);
    g_cpu_rings.store(&cpu->rings, std::memory_order_release);
  }

  // After every thread was retired: the rings become zeros (threads may still read a position).
  void close_cpu_rings() {
    if (!cpu) return;
    g_cpu_rings.store(nullptr, std::memory_order_release);
    park_cpu_rings(*cpu);
    cpu.reset();
  }
  // Never unmapped (nothing tells when no thread reads a position any more, and a ring may sit
  // where an earlier one did): zeros, for the next sampler to map its rings over.
  static void park_cpu_rings(CpuRings& rings) {
    for (auto& ring : rings.rings)
      if (ring) {
        const PerfSampleRing::Parked parked = ring->park();
        std::lock_guard lock(g_parked_mutex);
        g_idle_cpu_rings.push_back(parked);
      }
    rings.rings.clear();
  }

  // Reads every CPU ring: samples go to the threads under the events that run scopes (others are
  // not wanted), start and exit records keep the list of threads under the events.
  std::uint64_t cpu_lost = 0;  // samples the kernel could not write, not yet counted
  void pull_cpu_rings() {
    if (!cpu) return;
    const std::uint64_t now = detail::steady_ns();
    const std::uint64_t ready = now > kSampleInFlightNs ? now - kSampleInFlightNs : 0;
    const pid_t pid = g_owner_pid.load(std::memory_order_relaxed);
    ThreadState* wanted_thread = nullptr;  // found by `wanted`, given the record's sample next
    for (auto& ring : cpu->rings) {
      if (!ring) continue;
      cpu_lost += ring->read(
          ring->position(), copied_stack_unwind(),
          [&](const PerfSampleRing::Sample& s) {
            ThreadState& st = *wanted_thread;
            if (!st.unmarked.empty() && st.unmarked.back().end > s.time) st.unsorted = true;  // another CPU's
            std::vector<std::uintptr_t> pcs = take_spare(spare_pcs);
            pcs.assign(s.pcs.begin(), s.pcs.end());
            st.unmarked.push_back({s.time, std::move(pcs)});
          },
          [&](bool started, pid_t of, pid_t tid) {
            if (of != pid) return;
            if (started) cpu->inherited.insert(tid);
            else cpu->inherited.erase(tid);
          },
          [&](pid_t of, pid_t tid) {  // not unwound for nothing: threads that run no scope (yet)
            if (of != pid) return false;
            const auto it = threads.find(tid);
            wanted_thread = it != threads.end() && it->second->cpu_positions ? it->second.get() : nullptr;
            return wanted_thread != nullptr;
          });
    }
    cpu->ready = std::max(cpu->ready, ready);
  }

  // Gives each sample read from the kernel the operations its thread marked for it (sample_marks.hpp):
  // those of the first mark at or after it. In a thread's own ring, positions; under the CPU rings,
  // times, and samples and marks stamped after `ready` wait for the next drain (a sample before
  // them may still be on its way from another CPU). A thread's own ring is read whole: UINT64_MAX.
  void match_marks(ThreadState& st, bool keep, std::uint64_t ready) {
    if (st.unsorted) {
      std::stable_sort(st.unmarked.begin(), st.unmarked.end(), [](const auto& a, const auto& b) { return a.end < b.end; });
      st.unsorted = false;
    }
    // A thread that attached itself at its first scope is matched once its buffer is found.
    if (!st.buffer && st.hooked_buffer.load(std::memory_order_acquire)) {
      if (!keep) st.unmarked.clear();
      return;
    }
    const bool inherited = st.cpu_positions != nullptr;
    const void* const marked_by = inherited ? static_cast<const void*>(st.cpu_positions) : st.kernel_ring->position_word();
    std::uint64_t dropped = std::exchange(st.lost, 0);
    const auto emit = [&](std::span<const std::uint32_t> ops) {
      if (keep) {
        std::vector<std::uint32_t> v = take_spare(spare_ops);
        v.assign(ops.begin(), ops.end());
        pending.push_back({std::move(v), std::move(st.unmarked.front().pcs), 1, st.tid, &st.mechanism, inherited});
      }
      st.unmarked.pop_front();
    };
    const auto drop_up_to = [&](std::uint64_t end) {
      for (; !st.unmarked.empty() && st.unmarked.front().end <= end; ++dropped) st.unmarked.pop_front();
    };
    // Samples of a thread that had not run a scope when it was armed, taken before it was told to
    // mark them: in no operation that the sampler can name, kept when every thread is sampled.
    detail::SampleMarks* marks = st.buffer ? st.buffer->sample_marks.load(std::memory_order_acquire) : nullptr;
    while (!st.unmarked.empty() && (!marks || st.unmarked.front().end <= st.attached_at)) {
      if (all_threads) emit({});
      else st.unmarked.pop_front();
    }
    if (marks) {
      // Under the CPU rings, stamped before a mark already matched (it came later than
      // kSampleInFlightNs): unknown stack. (A thread's own ring is read in order: none such.)
      if (st.marked_once) drop_up_to(st.last_mark_position);
      const auto take_until = [&](std::uint64_t end, const detail::SampleMark& mark) {
        while (!st.unmarked.empty() && st.unmarked.front().end <= end) emit({mark.ids, mark.depth});
      };
      const std::uint64_t lost_marks = marks->lost.load(std::memory_order_acquire);
      const std::uint64_t written = marks->written.load(std::memory_order_acquire);
      std::uint64_t t = marks->taken.load(std::memory_order_relaxed);
      const detail::SampleMark* next = nullptr;  // the first mark after `ready`
      for (; t < written; ++t) {
        const detail::SampleMark& mark = marks->marks[t & (detail::SampleMarks::kCapacity - 1)];
        if (mark.ring != marked_by) continue;  // an earlier sampler's
        if (mark.position > ready) {
          next = &mark;
          break;
        }
        // A mark the thread could not write (its ring was full) leaves samples whose operations
        // nobody knows: up to the `from` of the next one.
        if (st.marked_once && mark.from != st.last_mark_position) drop_up_to(mark.from);
        take_until(mark.position, mark);
        st.last_mark_position = mark.position;
        st.marked_once = true;
      }
      // Marks the thread could not write (the sampler was late): the samples up to the last of
      // them were taken under stacks nobody knows.
      if (lost_marks != 0) drop_up_to(marks->lost_position.load(std::memory_order_relaxed));
      if (next) {
        // Samples up to `ready` come before this mark.
        if (st.marked_once && next->from != st.last_mark_position) drop_up_to(std::min(next->from, ready));
        take_until(ready, *next);
      } else if (!st.unmarked.empty() && st.unmarked.front().end <= ready) {
        // The rest were taken after the thread's last change of its open scopes, under the stack it
        // has open now, unless it changes it while we read: then it marks them first.
        std::uint32_t ops[kMaxOperations];
        const int n = detail::read_open_operations(detail::RecordingThread{static_cast<std::uint64_t>(st.tid), st.buffer}, ops,
                                                   kMaxOperations);
        // Read-modify-writes that change nothing: their release half keeps the stack reads above
        // before them; paired with the thread's own in mark_samples (no fences, see there). A mark
        // lost to a full ring changed the stack as much as a written one.
        if (marks->written.fetch_add(0, std::memory_order_acq_rel) == written &&
            marks->lost.fetch_add(0, std::memory_order_acq_rel) == lost_marks)
          while (!st.unmarked.empty() && st.unmarked.front().end <= ready) emit({ops, static_cast<std::size_t>(n)});
      }
      marks->taken.store(t, std::memory_order_release);
    }
    if (!keep) st.unmarked.clear();
    if (dropped && keep) store.writer().add_dropped(st.mechanism, dropped);
  }

  // While the symboliser loads a module's debug information (tens of milliseconds, seconds under a
  // sanitizer) the kernel's rings keep filling: they are emptied into memory every few ms meanwhile.
  std::chrono::steady_clock::time_point last_pull{};
  void pull_if_due() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_pull < std::chrono::milliseconds(2)) return;
    last_pull = now;
    for (auto& [tid, st] : threads)
      if (st->kernel_ring) pull(*st);
    pull_cpu_rings();
  }

  // Symbolises what was drained (outside the store's lock: a new module can take tens of
  // milliseconds), then adds it to the store under one lock.
  void publish() {
    if (pending.empty()) return;
    // Addresses met for the first time (the cache is not walked: it grows with the program). Most
    // are in recent_frames; try_emplace allocates only for a new one (emplace allocates a node for
    // every address it is given, then frees it: 14 malloc/free pairs a sample in the demo).
    std::vector<std::pair<std::uintptr_t, const std::vector<ProfileFrame>*>> fresh;
    for (const Pending& p : pending)
      for (std::size_t i = 0; i < p.pcs.size(); ++i) {
        const std::uintptr_t pc = i == 0 ? p.pcs[i] : p.pcs[i] - 1;  // return address -> the call
        RecentFrames& recent = recent_frames[core::fibonacci_slot(pc, kRecentFramesBits)];
        if (recent.pc == pc && recent.ids) continue;
        const auto [it, added] = frame_ids.try_emplace(pc);
        recent = {pc, &it->second};  // filled below, before any sample is added
        if (added) fresh.emplace_back(pc, nullptr);
      }
    for (auto& [pc, frames] : fresh) {
      frames = &symbolizer.frames(pc);
      pull_if_due();
    }
    for (auto& n : symbolizer.take_notes()) note(n.what, n.reason);
    auto w = store.writer();
    for (const auto& [pc, frames] : fresh) {
      auto& ids = frame_ids[pc];
      for (const ProfileFrame& f : *frames) ids.push_back(w.intern(f));
    }
    std::vector<std::uint32_t> stack;
    for (const Pending& p : pending) {
      stack.clear();
      for (std::size_t i = 0; i < p.pcs.size(); ++i) {
        const auto& ids = frame_ids_of(i == 0 ? p.pcs[i] : p.pcs[i] - 1);
        stack.insert(stack.end(), ids.begin(), ids.end());
      }
      if (w.add_cpu(*p.mechanism, stack, p.ops, static_cast<std::uint64_t>(p.tid), p.weight) && p.inherited)
        w.note_inherited_thread(*p.mechanism, static_cast<std::uint64_t>(p.tid));
    }
    for (Pending& p : pending) {
      if (spare_pcs.size() < kSpareVectors) spare_pcs.push_back(std::move(p.pcs));
      if (spare_ops.size() < kSpareVectors) spare_ops.push_back(std::move(p.ops));
    }
    pending.clear();
  }

  void drain_all(bool keep) {
    pull_cpu_rings();
    for (auto& [tid, st] : threads) drain_one(*st, keep);
    if (cpu_lost != 0 && keep) store.writer().add_dropped("perf_ring", cpu_lost);
    cpu_lost = 0;
    if (keep) publish();
  }

  void note_sources() {
    auto w = store.writer();
    for (auto& [tid, st] : threads) w.note_source(st->mechanism, frequency_hz);
  }

  void run() {
    pthread_setname_np(pthread_self(), "codeprof-stacks");
    std::vector<pollfd> fds;
    std::vector<pid_t> fd_threads;
    auto next_tick = std::chrono::steady_clock::now() + kTick;
    for (unsigned tick = 1;;) {
      fds.assign(1, pollfd{wake_fd, POLLIN, 0});
      fd_threads.assign(1, 0);
      {
        std::lock_guard lock(drain_mutex);
        for (const auto& [tid, st] : threads)
          if (st->kernel_ring) {
            fds.push_back({st->kernel_ring->fd(), POLLIN, 0});
            fd_threads.push_back(tid);
          }
        for (std::size_t c = 0; cpu && c < cpu->rings.size(); ++c)
          if (cpu->rings[c] && !cpu->hung_up[c]) {
            fds.push_back({cpu->rings[c]->fd(), POLLIN, 0});
            fd_threads.push_back(-1 - static_cast<pid_t>(c));
          }
      }
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick - std::chrono::steady_clock::now());
      poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(0, wait.count())));
      if (stop_requested.load()) {
        note_own_cpu();
        ended_threads_cpu_ns = own_cpu_ns.load();
        return;
      }
      std::lock_guard lock(drain_mutex);
      // A ring hangs up when its thread exits: retired now, or poll would return at once forever.
      for (std::size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents & (POLLHUP | POLLERR)) {
          // A CPU ring hangs up once the thread that opened it and every thread that inherited its
          // event have exited: nothing more comes, polling it would return at once for ever.
          if (fd_threads[i] < 0 && cpu) cpu->hung_up[static_cast<std::size_t>(-1 - fd_threads[i])] = true;
          else if (const auto it = threads.find(fd_threads[i]); it != threads.end()) retire(it, true, false);
        }
      if (std::chrono::steady_clock::now() >= next_tick) {
        // Arm new threads first: draining symbolises, and loading a module's debug information
        // (seconds under a sanitizer) would otherwise let a short-lived thread run unsampled.
        rescan();
        if (++tick % 5 == 0) note_sources();
        next_tick = std::chrono::steady_clock::now() + kTick;
      }
      drain_all(true);
      note_own_cpu();
    }
  }
};

CpuSampler::CpuSampler(const Config& config, detail::RecorderState& recorder, SampleStore& store,
                       ScopeThreads scope_threads)
    : impl_(std::make_unique<Impl>(config, recorder, store, std::move(scope_threads))) {}

CpuSampler::~CpuSampler() {
  stop();
  if (impl_->wake_fd >= 0) close(impl_->wake_fd);
}

namespace {
std::mutex g_owner_mutex;
CpuSampler::Impl* g_owner = nullptr;
}  // namespace

void CpuSampler::start() {
  Impl& im = *impl_;
  {
    std::lock_guard lock(g_owner_mutex);
    if (g_owner) {
      im.note("sampling", "another profiler in this process samples already (one SIGPROF handler per process)");
      return;
    }
    const LocalUnwinder& unwinder = LocalUnwinder::get();
    if (!unwinder.ok()) {
      im.note("sampling", unwinder.error);
      return;
    }
    g_unwinder = &unwinder;
    const CopiedStackUnwinder& copied = CopiedStackUnwinder::get();
    im.copied_stacks = copied.ok();
    if (!im.copied_stacks && (im.mechanism == "auto" || im.mechanism == "perf_ring"))
      im.note("sampling_stacks", "perf_ring samples carry frame-pointer call chains, whose callers are wrong in code built "
                                 "without frame pointers: " + copied.error);
    struct sigaction old {};
    sigaction(kSignal, nullptr, &old);
    const bool ours = (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_signal;
    if (!ours && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
      im.note("sampling", "SIGPROF already has a handler (another profiler?): not sampling");
      return;
    }
    if (!ours) {
      // Installed once and never removed: a SIGPROF still pending after stop() must not kill the
      // process (the default action of SIGPROF is to terminate).
      struct sigaction sa {};
      sa.sa_sigaction = on_signal;
      sa.sa_flags = SA_SIGINFO | SA_RESTART;
      sigemptyset(&sa.sa_mask);
      if (sigaction(kSignal, &sa, nullptr) != 0) {
        im.note("sampling", std::string("cannot install the SIGPROF handler: ") + std::strerror(errno));
        return;
      }
      static std::once_flag atfork;
      std::call_once(atfork, [] { pthread_atfork(nullptr, nullptr, in_forked_child); });
    }
    if (unwinder.set_caching_policy && unwinder.local_addr_space)
      unwinder.set_caching_policy(*unwinder.local_addr_space, UNW_CACHE_PER_THREAD);
    g_owner = impl_.get();
    g_owner_pid.store(getpid());
    g_recorder.store(&im.recorder, std::memory_order_release);
    im.recorder.thread_attached.store(&on_thread_attached, std::memory_order_release);
    g_all_threads.store(im.all_threads);
    g_max_frames.store(im.max_frames);
  }
  im.stop_requested = false;
  if (im.wake_fd < 0) im.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  {
    // The sampler's thread first, so that it does not inherit the CPU rings' events; its first
    // tick waits for this lock.
    std::lock_guard lock(im.drain_mutex);
    std::promise<pid_t> started;
    std::future<pid_t> worker_tid = started.get_future();
    im.worker = std::thread([&im, started = std::move(started)]() mutable {
      started.set_value(current_tid());
      im.run();
    });
    im.own_tid = worker_tid.get();
    im.open_cpu_rings();
    im.rescan();
    // The thread that starts the profiler usually runs its scopes (the main thread): armed now,
    // not a tick after its first scope, which a loaded machine can delay.
    if (const pid_t self = current_tid(); !im.threads.count(self)) im.arm(self, nullptr);
    im.note_sources();
  }
  running_ = true;
}

void CpuSampler::stop() {
  if (!running_) return;
  running_ = false;
  Impl& im = *impl_;
  if (im.forked()) {
    im.worker.detach();  // it exists only in the parent
    return;
  }
  im.stop_requested = true;
  const std::uint64_t one = 1;
  if (write(im.wake_fd, &one, sizeof one) < 0) {
    // Cannot fail for a fresh eventfd; the worker still sees the flag within a tick.
  }
  im.worker.join();
  im.recorder.thread_attached.store(nullptr, std::memory_order_release);
  {
    std::lock_guard lock(im.drain_mutex);
    // Threads that attached themselves: their buffers are needed to tell them to stop marking.
    im.attach_found_buffers(im.recording_buffers());
    // No new samples from here on: every thread's last ones are in the rings when it is retired.
    if (im.cpu)
      for (auto& ring : im.cpu->rings)
        if (ring) ring->disable();
    while (!im.threads.empty()) im.retire(im.threads.begin(), true, true);
    im.close_cpu_rings();
  }
  std::lock_guard lock(g_owner_mutex);
  g_recorder.store(nullptr);
  g_owner = nullptr;
}

void CpuSampler::flush() {
  if (!running_ || impl_->forked()) return;
  std::lock_guard lock(impl_->drain_mutex);
  // A thread armed before its first scope keeps the samples it took since in memory until its
  // buffer is found, which the sampler's thread does at its next tick; that tick can be late
  // (the first symbolising of a module holds this lock for up to a second under a sanitizer).
  // A snapshot taken meanwhile gets them: the buffer is looked up here too.
  impl_->attach_found_buffers(impl_->recording_buffers());
  impl_->drain_all(true);
}

void CpuSampler::discard_pending() {
  if (!running_ || impl_->forked()) return;
  std::lock_guard lock(impl_->drain_mutex);
  impl_->drain_all(false);
  impl_->note_sources();
}

std::string CpuSampler::unwinder() const {
  // No lock: a forked child may call this while the parent's sampler thread held one.
  return impl_->frame_pointer_chains.load() ? "frame pointers" : "libunwind";
}

std::uint64_t CpuSampler::own_cpu_ns() const noexcept { return impl_->own_cpu_ns.load(); }

std::vector<Unavailable> CpuSampler::unavailable() const {
  std::lock_guard lock(impl_->notes_mutex);
  return impl_->notes;
}

}  // namespace codeprof::sampling
