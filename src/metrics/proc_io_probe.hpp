#pragma once
// I/O counters of the calling thread from /proc/thread-self/io (task I/O accounting).
// rchar/wchar count bytes passed to read/write-family system calls (files, pipes, sockets, page
// cache hits included); syscr/syscw count those calls; read_bytes/write_bytes count what reached
// the storage layer (0 for page-cache hits and for tmpfs/overlay upper dirs).
#include <cstdint>
#include <string>

namespace codeprof::metrics {

struct IoCounters {
  std::int64_t rchar = 0;
  std::int64_t wchar = 0;
  std::int64_t syscr = 0;
  std::int64_t syscw = 0;
  std::int64_t read_bytes = 0;
  std::int64_t write_bytes = 0;
};

// Reads the calling thread's counters through a thread-local descriptor (opened on first use,
// closed when the thread exits). False when the file cannot be read. rchar/syscr exclude the
// reads of this file made by earlier calls, so deltas between two calls show only the work done
// between them (read_bytes/write_bytes are unaffected: the file is not on a block device).
bool read_thread_io(IoCounters& out) noexcept;

// Parses the text of a /proc/<pid>/io file; false if a field is missing.
bool parse_io(std::string_view text, IoCounters& out) noexcept;

// Empty if /proc/thread-self/io is readable here, else the reason (kernel without task I/O
// accounting, /proc not mounted, ptrace restrictions).
std::string thread_io_unavailable_reason();

}  // namespace codeprof::metrics
