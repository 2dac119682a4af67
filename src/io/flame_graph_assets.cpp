#include "io/flame_graph_assets.hpp"

#include <atomic>

namespace codeprof::io {
namespace {
// Set once at start-up (a static initialiser of the dashboard library), read by writers.
std::atomic<const FlameGraphAssets& (*)()> g_provider{nullptr};
}  // namespace

void register_flame_graph_assets(const FlameGraphAssets& (*provider)()) { g_provider.store(provider, std::memory_order_release); }

const FlameGraphAssets* flame_graph_assets() {
  const auto provider = g_provider.load(std::memory_order_acquire);
  return provider ? &provider() : nullptr;
}

}  // namespace codeprof::io
