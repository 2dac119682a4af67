// Starts a dashboard with every Profiler whose configuration sets dashboard.port: registers the
// starter that the facade calls (src/api/dashboard_hook.hpp). The library's link interface names
// kAutostartSymbol as undefined, so this file is linked into every program that links
// codeprof::dashboard even though nothing calls into it.
#include <cstdio>

#include "api/alert_sink.hpp"
#include "api/dashboard_hook.hpp"
#include "codeprof/dashboard.hpp"
#include "codeprof/profiler.hpp"
#include "io/flame_graph_assets.hpp"
#include "server/web_assets.hpp"
#include "server/alert_webhook.hpp"

namespace {

std::shared_ptr<void> start_with_profiler(codeprof::Profiler& profiler) {
  std::shared_ptr<codeprof::Dashboard> dashboard = codeprof::start_configured_dashboard(profiler);
  if (dashboard) std::fprintf(stderr, "codeprof: dashboard at %s\n", dashboard->url().c_str());
  return dashboard;
}

// The HTML report's flame graph: the same bundled scripts as the dashboard page.
const codeprof::io::FlameGraphAssets& flame_graph_assets() {
  static const codeprof::io::FlameGraphAssets assets = [] {
    const auto body = [](std::string_view path) {
      const codeprof::server::WebAsset* a = codeprof::server::find_web_asset(path);
      return a ? std::string(a->body) : std::string();
    };
    return codeprof::io::FlameGraphAssets{
        body("/vendor/d3.min.js") + "\n" + body("/vendor/d3-flamegraph.min.js") + "\n" + body("/flamegraph.js"),
        body("/vendor/d3-flamegraph.css")};
  }();
  return assets;
}

const bool registered = [] {
  codeprof::detail::register_dashboard_starter(&start_with_profiler);
  codeprof::io::register_flame_graph_assets(&flame_graph_assets);
  // The alert webhook needs this library's HTTP client (src/api/alert_sink.hpp).
  codeprof::detail::register_alert_sink_factory(&codeprof::server::make_alert_webhook);
  return true;
}();

}  // namespace

// Referenced by name from src/server/CMakeLists.txt (LINKER:--undefined=...).
extern "C" const bool codeprof_dashboard_autostart = registered;
