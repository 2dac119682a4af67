// The process-wide default profiler: created on first use from the environment, flushed (and
// exported when output.export_on_exit is set) at normal process exit.
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "api/alert_monitor.hpp"
#include "codeprof/profiler.hpp"

namespace codeprof {
namespace detail {
void stop_sampler_at_exit(Profiler& profiler);  // src/api/profiler.cpp
}
namespace {

Profiler* g_default = nullptr;

void finish_default() {
  if (!g_default) return;
  // The alert thread reads snapshots: stop it before other static destructors run.
  detail::stop_alert_monitor(*g_default);
  try {
    g_default->flush();
    if (g_default->config().export_on_exit) {
      for (const auto& path : g_default->export_all()) std::fprintf(stderr, "codeprof: wrote %s\n", path.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "codeprof: export at exit failed: %s\n", e.what());
  }
  // Not destroyed: other static destructors may still run scopes on it. Its sampler stops: the
  // files it reads are closed by static destructors that run after this handler.
  detail::stop_sampler_at_exit(*g_default);
}

}  // namespace

Profiler& default_profiler() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_default = new Profiler(Config::from_env());
    std::atexit(finish_default);
  });
  return *g_default;
}

}  // namespace codeprof
