#pragma once
// Reads the counters the system sampler turns into series: process CPU time, faults, context
// switches (getrusage, which sums all threads), RSS and virtual size (/proc/self/statm), thread
// count (/proc/self/stat), open descriptors (/proc/self/fd), process I/O (/proc/self/io) and the
// machine's CPU time (/proc/stat). Files are kept open; a reading allocates nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "metrics/net_counters.hpp"
#include "metrics/proc_file.hpp"
#include "metrics/proc_io_probe.hpp"

namespace codeprof::metrics {

struct ProcessReading {
  std::int64_t steady_ns = 0;
  std::int64_t cpu_ns = 0;  // user + system of all threads
  std::int64_t minor_faults = 0;
  std::int64_t major_faults = 0;
  std::int64_t voluntary_switches = 0;
  std::int64_t involuntary_switches = 0;
  std::int64_t rss_bytes = 0;
  std::int64_t vm_bytes = 0;
  std::int64_t threads = 0;
  std::int64_t open_fds = 0;
  IoCounters io;
  std::int64_t system_busy_ticks = 0;  // /proc/stat, all CPUs
  std::int64_t system_total_ticks = 0;
  NetCounters net;  // the process's socket counters (codeprof::net), summed over its threads
  // Which optional sources were read this time.
  bool has_memory = false;
  bool has_threads = false;
  bool has_fds = false;
  bool has_io = false;
  bool has_system = false;
  bool has_net = false;
};

class ProcessReader {
 public:
  ProcessReader();
  ProcessReading read() const noexcept;
  // For each source that could not be read at construction: {what, reason}.
  const std::vector<std::pair<std::string, std::string>>& problems() const noexcept { return problems_; }

 private:
  ProcFile stat_;
  ProcFile io_;
  ProcFile system_stat_;
  std::vector<std::pair<std::string, std::string>> problems_;
};

// Parsers, exposed for tests.
bool parse_system_cpu(std::string_view proc_stat, std::int64_t& busy, std::int64_t& total) noexcept;
// Field 20 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces).
bool parse_thread_count(std::string_view pid_stat, std::int64_t& threads) noexcept;
// Entries of /proc/self/fd, not counting the descriptor used to list it; -1 on failure.
std::int64_t count_open_fds() noexcept;

}  // namespace codeprof::metrics
