#pragma once
// Helpers shared by the metrics tests: run a workload between a ProbeSet's hooks (as the core
// does around a scope), and workloads whose resource use is known.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "codeprof/call_site.hpp"
#include "codeprof/config.hpp"
#include "codeprof/probe_metrics.hpp"
#include "metrics/probe_set.hpp"
#include "metrics/thread_cpu_probe.hpp"

// Sanitizer runtimes keep freed memory in quarantine and add shadow pages: RSS bounds loosen.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CODEPROF_TEST_SANITIZED 1
#else
#define CODEPROF_TEST_SANITIZED 0
#endif

namespace codeprof::test {

inline constexpr std::int64_t kMiB = 1024 * 1024;

// Keeps the compiler from removing an allocation whose memory is never read.
inline void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

template <typename Work>
ProbeDeltas measure(metrics::ProbeSet& probes, std::uint32_t operation_id, Work&& work) {
  const ProbeHooks h = probes.hooks();
  ProbeFrame frame;
  h.begin(h.context, operation_id, frame);
  work();
  ProbeDeltas out;
  h.end(h.context, operation_id, frame, out);
  return out;
}

// Allocates `bytes` with new[] and writes one byte per page, so every page becomes resident.
inline std::unique_ptr<char[]> touched_block(std::int64_t bytes) {
  std::unique_ptr<char[]> p(new char[static_cast<std::size_t>(bytes)]);
  for (std::int64_t i = 0; i < bytes; i += 4096) p[static_cast<std::size_t>(i)] = static_cast<char>(i | 1);
  escape(p.get());
  return p;
}

// Spins until this thread has used `ns` of CPU time.
inline void burn_cpu(std::int64_t ns) {
  const std::int64_t start = metrics::thread_cpu_ns();
  volatile std::uint64_t x = 0;
  while (metrics::thread_cpu_ns() - start < ns) x = x + 1;
}

inline void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Writes `chunks` x `chunk` bytes with one write() each, then closes the file.
inline void write_file(const std::string& path, int chunks, std::int64_t chunk) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  std::string block(static_cast<std::size_t>(chunk), 'x');
  for (int i = 0; i < chunks; ++i)
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()))
      throw std::runtime_error("short write to " + path);
  ::close(fd);
}

// Reads `chunks` x `chunk` bytes with one read() each.
inline std::int64_t read_file(const std::string& path, int chunks, std::int64_t chunk) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  std::string block(static_cast<std::size_t>(chunk), '\0');
  std::int64_t total = 0;
  for (int i = 0; i < chunks; ++i) total += ::read(fd, block.data(), block.size());
  ::close(fd);
  return total;
}

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("codeprof_metrics_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

inline Config metrics_config() {
  Config c;
  c.sampler_enabled = false;
  return c;
}

inline bool has_unavailable(const std::vector<Unavailable>& list, const std::string& what) {
  for (const auto& u : list)
    if (u.what == what) return true;
  return false;
}

}  // namespace codeprof::test
