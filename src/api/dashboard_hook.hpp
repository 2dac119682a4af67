#pragma once
// How a Profiler whose config sets dashboard.port starts a dashboard without the api layer
// depending on the server layer: codeprof_dashboard registers a starter when it is loaded.
#include <memory>

namespace codeprof {
class Profiler;
namespace detail {

using DashboardStarter = std::shared_ptr<void> (*)(Profiler& profiler);
void register_dashboard_starter(DashboardStarter starter);
DashboardStarter dashboard_starter();

}  // namespace detail
}  // namespace codeprof
