// Starts a dashboard with every Profiler whose configuration sets dashboard.port: registers the
// starter that the facade calls (src/api/dashboard_hook.hpp). The library's link interface names
// kAutostartSymbol as undefined, so this file is linked into every program that links
// codeprof::dashboard even though nothing calls into it.
#include <cstdio>

#include "api/alert_sink.hpp"
#include "api/dashboard_hook.hpp"
#include "codeprof/dashboard.hpp"
#include "codeprof/profiler.hpp"
#include "server/alert_webhook.hpp"

namespace {

std::shared_ptr<void> start_with_profiler(codeprof::Profiler& profiler) {
  std::shared_ptr<codeprof::Dashboard> dashboard = codeprof::start_configured_dashboard(profiler);
  if (dashboard) std::fprintf(stderr, "codeprof: dashboard at %s\n", dashboard->url().c_str());
  return dashboard;
}

const bool registered = [] {
  codeprof::detail::register_dashboard_starter(&start_with_profiler);
  // The alert webhook needs this library's HTTP client (src/api/alert_sink.hpp).
  codeprof::detail::register_alert_sink_factory(&codeprof::server::make_alert_webhook);
  return true;
}();

}  // namespace

// Referenced by name from src/server/CMakeLists.txt (LINKER:--undefined=...).
extern "C" const bool codeprof_dashboard_autostart = registered;
