#include "metrics/process_reader.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "metrics/rss_probe.hpp"

namespace codeprof::metrics {
namespace {

std::int64_t to_ns(const timespec& ts) noexcept {
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string open_problem(const char* path, const ProcFile& f) {
  return std::string("cannot open ") + path + ": " + std::strerror(f.open_errno());
}

}  // namespace

bool parse_system_cpu(std::string_view text, std::int64_t& busy, std::int64_t& total) noexcept {
  if (text.substr(0, 4) != "cpu ") return false;
  const std::string_view line = text.substr(4, text.find('\n') - 4);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  std::int64_t v[8] = {};
  for (std::size_t i = 0; i < 8; ++i) {
    const auto n = nth_number(line, i);
    if (!n) return i >= 4;  // very old kernels stop early; idle is always there
    v[i] = *n;
  }
  total = 0;
  for (std::int64_t x : v) total += x;
  busy = total - v[3] - v[4];
  return true;
}

bool parse_thread_count(std::string_view text, std::int64_t& threads) noexcept {
  const std::size_t close = text.rfind(')');
  if (close == std::string_view::npos) return false;
  // Fields after ")": state is field 3, num_threads is field 20.
  const auto n = nth_number(text.substr(close + 1), 20 - 3);
  if (!n) return false;
  threads = *n;
  return true;
}

std::int64_t count_open_fds() noexcept {
  const int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -1;
  // getdents64 into a stack buffer: opendir() would malloc 32 KiB per call.
  alignas(8) char buf[4096];
  std::int64_t count = 0;
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n < 0) {
      count = -1;
      break;
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
      if (d->d_name[0] != '.') ++count;
      off += d->d_reclen;
    }
  }
  ::close(dir);
  return count < 0 ? -1 : count - 1;  // the listing's own descriptor
}

ProcessReader::ProcessReader()
    : stat_("/proc/self/stat"), io_("/proc/self/io"), system_stat_("/proc/stat") {
  const ProcessReading r = read();
  if (!r.has_memory) problems_.emplace_back("rss_bytes", "cannot read /proc/self/statm");
  if (!r.has_threads)
    problems_.emplace_back("threads", stat_.is_open() ? "cannot parse /proc/self/stat" : open_problem("/proc/self/stat", stat_));
  if (!r.has_fds) problems_.emplace_back("open_fds", "cannot list /proc/self/fd");
  if (!r.has_io)
    problems_.emplace_back("io_rates", io_.is_open() ? "cannot parse /proc/self/io" : open_problem("/proc/self/io", io_));
  if (!r.has_system)
    problems_.emplace_back("system_cpu_percent",
                           system_stat_.is_open() ? "cannot parse /proc/stat" : open_problem("/proc/stat", system_stat_));
}

ProcessReading ProcessReader::read() const noexcept {
  ProcessReading r;
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // steady_clock's clock on Linux
  r.steady_ns = to_ns(ts);
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) r.cpu_ns = to_ns(ts);
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    r.minor_faults = ru.ru_minflt;
    r.major_faults = ru.ru_majflt;
    r.voluntary_switches = ru.ru_nvcsw;
    r.involuntary_switches = ru.ru_nivcsw;
  }
  r.has_memory = read_statm(r.rss_bytes, r.vm_bytes);
  char buf[1024];
  r.has_threads = parse_thread_count(stat_.read(buf, sizeof buf), r.threads);
  r.open_fds = count_open_fds();
  r.has_fds = r.open_fds >= 0;
  r.has_io = parse_io(io_.read(buf, sizeof buf), r.io);
  // Only the first line of /proc/stat is needed; a short read keeps it cheap on many-core hosts.
  r.has_system = parse_system_cpu(system_stat_.read(buf, sizeof buf), r.system_busy_ticks, r.system_total_ticks);
  r.has_net = read_net_process_totals(r.net);
  return r;
}

}  // namespace codeprof::metrics
