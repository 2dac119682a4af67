#include "metrics/proc_io_probe.hpp"

#include <pthread.h>

#include <cerrno>
#include <cstring>

#include "metrics/proc_file.hpp"

namespace codeprof::metrics {

bool parse_io(std::string_view text, IoCounters& out) noexcept {
  const auto rchar = proc_field(text, "rchar");
  const auto wchar = proc_field(text, "wchar");
  const auto syscr = proc_field(text, "syscr");
  const auto syscw = proc_field(text, "syscw");
  if (!rchar || !wchar || !syscr || !syscw) return false;
  out.rchar = *rchar;
  out.wchar = *wchar;
  out.syscr = *syscr;
  out.syscw = *syscw;
  // Storage-level counters exist only with CONFIG_TASK_IO_ACCOUNTING; keep 0 otherwise.
  out.read_bytes = proc_field(text, "read_bytes").value_or(0);
  out.write_bytes = proc_field(text, "write_bytes").value_or(0);
  return true;
}

namespace {

const ProcFile& thread_io_file() noexcept {
  // "thread-self" resolves when opened, so each thread keeps its own descriptor.
  thread_local const ProcFile file("/proc/thread-self/io");
  return file;
}

// After fork() the child's only thread is the one that forked: its descriptor still names the
// parent's thread. The child handler runs on that thread and re-resolves it.
void register_fork_handler() noexcept {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, [] { thread_io_file().reopen_in_child(); });
    return true;
  }();
  (void)registered;
}

}  // namespace

bool read_thread_io(IoCounters& out) noexcept {
  register_fork_handler();
  const ProcFile& file = thread_io_file();
  // Bytes and calls of this thread's earlier reads of the file itself: the kernel counts them
  // like any read(), and a scope must not see its probes' (or its child scopes' probes') reads.
  thread_local std::int64_t own_bytes = 0;
  thread_local std::int64_t own_calls = 0;
  char buf[512];
  const std::string_view text = file.read(buf, sizeof buf);
  const bool ok = parse_io(text, out);
  if (ok) {
    out.rchar -= own_bytes;
    out.syscr -= own_calls;
  }
  own_bytes += static_cast<std::int64_t>(text.size());
  own_calls += 1;
  return ok;
}

std::string thread_io_unavailable_reason() {
  const ProcFile file("/proc/thread-self/io");
  if (!file.is_open())
    return std::string("cannot open /proc/thread-self/io: ") + std::strerror(file.open_errno());
  char buf[512];
  IoCounters c;
  if (!parse_io(file.read(buf, sizeof buf), c))
    return "cannot parse /proc/thread-self/io (expected rchar/wchar/syscr/syscw lines)";
  return {};
}

}  // namespace codeprof::metrics
