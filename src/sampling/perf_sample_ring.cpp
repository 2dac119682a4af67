#include "sampling/perf_sample_ring.hpp"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

namespace codeprof::sampling {
namespace {

perf_event_mmap_page* meta(void* map) noexcept { return static_cast<perf_event_mmap_page*>(map); }

// Call chain entries at or above this are context markers (PERF_CONTEXT_USER and the like).
constexpr std::uint64_t kContextMarkers = static_cast<std::uint64_t>(PERF_CONTEXT_MAX);

}  // namespace

std::unique_ptr<PerfSampleRing> PerfSampleRing::open(pid_t tid, const Options& options, std::string& error, int& error_number) {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.sample_period = 1'000'000'000ull / options.frequency_hz;  // cpu-clock counts nanoseconds
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  attr.exclude_callchain_kernel = 1;
  // The reader polls the descriptor: it is woken when three quarters of the ring are used, which its
  // tick normally comes before (each wake costs the reader a context switch).
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t data_size = page * std::bit_ceil(options.data_pages);
  attr.watermark = 1;
  attr.wakeup_watermark = static_cast<std::uint32_t>(data_size / 4 * 3);
  attr.sample_type = PERF_SAMPLE_TID;
  if (options.inherited) {
    attr.inherit = 1;
    attr.inherit_thread = 1;  // threads only: a forked child process is not sampled (Linux 5.13)
    attr.task = 1;            // thread start and exit records: which threads inherited the events
    attr.context_switch = 1;  // moves the ring at every switch: how a thread knows it ran elsewhere
    attr.sample_type |= PERF_SAMPLE_TIME;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
  }
  if (options.stacks == Stacks::frame_pointers) {
    attr.sample_type |= PERF_SAMPLE_CALLCHAIN;
    // kernel.perf_event_max_stack (127 by default) refuses more with EOVERFLOW.
    attr.sample_max_stack = static_cast<std::uint16_t>(std::min(options.max_frames, 127));
  } else {
    attr.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    attr.sample_regs_user = options.sample_regs_user;
    attr.sample_stack_user = options.stack_bytes;
  }
  const int fd = static_cast<int>(
      syscall(SYS_perf_event_open, &attr, tid, options.inherited ? options.cpu : -1, -1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) {
    error_number = errno;
    error = std::string("perf_event_open (software cpu-clock, user space, sampled into a ring) failed: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<PerfSampleRing> ring(new PerfSampleRing());
  ring->fd_ = fd;
  ring->options_ = options;
  ring->page_ = page;
  ring->data_size_ = data_size;
  void* map = MAP_FAILED;
  if (options.map_at) {
    map = mmap(options.map_at, ring->page_ + ring->data_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    // A failed MAP_FIXED may have unmapped the region: zeros again, for whoever still reads it.
    if (map == MAP_FAILED)
      mmap(options.map_at, ring->page_ + ring->data_size_, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  if (map == MAP_FAILED) map = mmap(nullptr, ring->page_ + ring->data_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    error_number = errno;
    // Unprivileged users may lock kernel.perf_event_mlock_kb (516 KiB) of perf rings, then
    // RLIMIT_MEMLOCK.
    error = std::string("cannot map the sample ring of ") + std::to_string(ring->data_size_ / 1024) +
            " KiB: " + std::strerror(errno) + " (kernel.perf_event_mlock_kb and RLIMIT_MEMLOCK bound it)";
    return nullptr;  // the destructor closes the event
  }
  ring->map_ = map;
  return ring;
}

std::uint32_t PerfSampleRing::pages_for(const Options& options, std::uint32_t samples) {
  // Per sample: the header, pid/tid, then the call chain or the registers and the stack copy.
  // Inherited: the time, and a few context-switch records (a header each) per sample.
  const std::uint64_t bytes = (options.stacks == Stacks::frame_pointers
                                   ? 8 + 8 + 8 + 8ull * static_cast<std::uint64_t>(options.max_frames)
                                   : 8 + 8 + 8 + 8ull * static_cast<std::uint64_t>(std::popcount(options.sample_regs_user)) + 8 +
                                         options.stack_bytes + 8) +
                              (options.inherited ? 8 + 4 * 8 : 0);
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return static_cast<std::uint32_t>(std::bit_ceil((bytes * samples + page - 1) / page));
}

std::size_t PerfSampleRing::mapping_bytes(const Options& options) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page + page * std::bit_ceil(options.data_pages);
}

bool PerfSampleRing::enable() noexcept { return ioctl(fd_, PERF_EVENT_IOC_ENABLE, 0) == 0; }

void PerfSampleRing::disable() noexcept {
  if (fd_ >= 0) ioctl(fd_, PERF_EVENT_IOC_DISABLE, 0);
}

void PerfSampleRing::abandon_in_forked_child() noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  map_ = nullptr;
}

PerfSampleRing::~PerfSampleRing() {
  if (map_) munmap(map_, page_ + data_size_);
  if (fd_ >= 0) close(fd_);
}

// __u64 is unsigned long long, std::uint64_t unsigned long: the same 64 bits.
const std::uint64_t* PerfSampleRing::position_word() const noexcept {
  return reinterpret_cast<const std::uint64_t*>(&meta(map_)->data_head);
}

std::uint64_t PerfSampleRing::position() const noexcept { return __atomic_load_n(&meta(map_)->data_head, __ATOMIC_ACQUIRE); }

std::uint64_t PerfSampleRing::read(std::uint64_t up_to, const Unwind& unwind, const std::function<void(const Sample&)>& on_sample,
                                   const OnThread& on_thread, const Wanted& wanted) {
  perf_event_mmap_page* m = meta(map_);
  const auto* data = static_cast<const unsigned char*>(map_) + page_;
  std::uint64_t tail = m->data_tail;
  std::uint64_t lost = 0;
  const auto copy_out = [&](std::uint64_t at, void* to, std::size_t n) {
    const std::size_t offset = at % data_size_, first = std::min(n, data_size_ - offset);
    std::memcpy(to, data + offset, first);
    std::memcpy(static_cast<unsigned char*>(to) + first, data, n - first);
  };
  while (tail < up_to) {
    perf_event_header header{};
    copy_out(tail, &header, sizeof header);
    if (header.size < sizeof header || tail + header.size > up_to) break;  // never seen; do not loop on it
    // Read in place (the kernel does not overwrite it before data_tail moves), or made contiguous
    // where it wraps the ring's end.
    const unsigned char* record = data + tail % data_size_;
    if (tail % data_size_ + header.size > data_size_) {
      record_.resize(header.size);
      copy_out(tail, record_.data(), header.size);
      record = record_.data();
    }
    tail += header.size;
    const unsigned char* at = record + sizeof header;
    const unsigned char* const end = record + header.size;
    const auto word = [&](std::uint64_t& v) {
      if (end - at < 8) return false;
      std::memcpy(&v, at, 8);
      at += 8;
      return true;
    };
    if (header.type == PERF_RECORD_LOST) {
      std::uint64_t id = 0, n = 0;
      if (word(id) && word(n)) lost += n;
      continue;
    }
    if (header.type == PERF_RECORD_FORK || header.type == PERF_RECORD_EXIT) {
      std::uint64_t pid_ppid = 0, tid_ptid = 0;  // u32 pid, ppid; u32 tid, ptid
      if (on_thread && word(pid_ppid) && word(tid_ptid))
        on_thread(header.type == PERF_RECORD_FORK, static_cast<pid_t>(pid_ppid & 0xffffffffu),
                  static_cast<pid_t>(tid_ptid & 0xffffffffu));
      continue;
    }
    if (header.type != PERF_RECORD_SAMPLE) continue;
    std::uint64_t pid_tid = 0, time = 0;  // u32 pid, tid
    if (!word(pid_tid) || (options_.inherited && !word(time))) continue;
    if (wanted && !wanted(static_cast<pid_t>(pid_tid & 0xffffffffu), static_cast<pid_t>(pid_tid >> 32))) continue;
    pcs_.clear();
    if (options_.stacks == Stacks::frame_pointers) {
      std::uint64_t nr = 0;
      if (!word(nr)) continue;
      std::uint64_t pc = 0;
      for (std::uint64_t i = 0; i < nr && word(pc); ++i)
        if (pc < kContextMarkers && pcs_.size() < static_cast<std::size_t>(options_.max_frames)) pcs_.push_back(pc);
    } else {
      std::uint64_t abi = 0;
      if (!word(abi) || abi == PERF_SAMPLE_REGS_ABI_NONE) continue;  // a kernel thread's sample: no user state
      const std::size_t n_regs = static_cast<std::size_t>(std::popcount(options_.sample_regs_user));
      std::uint64_t regs[64];
      if (static_cast<std::size_t>(end - at) < n_regs * 8) continue;
      std::memcpy(regs, at, n_regs * 8);
      at += n_regs * 8;
      std::uint64_t size = 0;
      if (!word(size) || static_cast<std::uint64_t>(end - at) < size + 8) continue;
      const unsigned char* stack = at;
      at += size;
      std::uint64_t dyn_size = 0;
      word(dyn_size);
      if (dyn_size > size) dyn_size = size;
      pcs_.resize(static_cast<std::size_t>(options_.max_frames));
      const int n = unwind ? unwind(regs, stack, static_cast<std::size_t>(dyn_size), pcs_.data(), options_.max_frames) : 0;
      pcs_.resize(static_cast<std::size_t>(n > 0 ? n : 0));
    }
    on_sample(Sample{tail, static_cast<pid_t>(pid_tid & 0xffffffffu), static_cast<pid_t>(pid_tid >> 32), time, pcs_});
  }
  __atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
  return lost;
}

PerfSampleRing::Parked PerfSampleRing::park() {
  Parked parked;
  if (fd_ >= 0) {
    ioctl(fd_, PERF_EVENT_IOC_DISABLE, 0);
    close(fd_);
    fd_ = -1;
  }
  if (!map_) return parked;
  const std::size_t size = page_ + data_size_;
  void* zeros = mmap(map_, size, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (zeros == MAP_FAILED) {
    // Cannot happen short of running out of memory maps; keeping the ring mapped is safe.
    parked = {map_, size};
  } else {
    parked = {zeros, size};
  }
  map_ = nullptr;
  return parked;
}

void PerfSampleRing::release(const Parked& parked) noexcept {
  if (parked.at) munmap(parked.at, parked.size);
}

}  // namespace codeprof::sampling
