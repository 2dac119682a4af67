#include "metrics/rss_probe.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cstring>

#include "metrics/proc_file.hpp"

namespace codeprof::metrics {
namespace {

const ProcFile& statm_file() {
  static const ProcFile file("/proc/self/statm");
  // "self" was resolved at open: a forked child (a data-loader worker) must read its own.
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, [] { file.reopen_in_child(); });
    return true;
  }();
  (void)registered;
  return file;
}

std::int64_t page_size() noexcept {
  static const std::int64_t size = [] {
    const long v = ::sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<std::int64_t>(v) : 4096;
  }();
  return size;
}

}  // namespace

bool read_statm(std::int64_t& rss_bytes, std::int64_t& vm_bytes) noexcept {
  char buf[128];
  const std::string_view text = statm_file().read(buf, sizeof buf);
  const auto vm = nth_number(text, 0);
  const auto rss = nth_number(text, 1);
  if (!vm || !rss) return false;
  vm_bytes = *vm * page_size();
  rss_bytes = *rss * page_size();
  return true;
}

RssProbe::RssProbe() {
  const ProcFile& f = statm_file();
  if (!f.is_open()) {
    reason_ = std::string("cannot open /proc/self/statm: ") + std::strerror(f.open_errno());
    return;
  }
  ok_ = rss_bytes() >= 0;
  if (!ok_) reason_ = "cannot parse /proc/self/statm (expected \"size resident ...\" in pages)";
}

std::int64_t RssProbe::rss_bytes() const noexcept {
  std::int64_t rss = 0, vm = 0;
  return read_statm(rss, vm) ? rss : -1;
}

}  // namespace codeprof::metrics
