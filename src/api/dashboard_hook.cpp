#include "api/dashboard_hook.hpp"

#include <atomic>

namespace codeprof::detail {
namespace {
std::atomic<DashboardStarter> g_starter{nullptr};
}
void register_dashboard_starter(DashboardStarter starter) { g_starter.store(starter); }
DashboardStarter dashboard_starter() { return g_starter.load(); }
}  // namespace codeprof::detail
