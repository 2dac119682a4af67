#include "io/flame_graph_assets.hpp"

#include <atomic>

namespace codeprof::io {
namespace {
// Set once at start-up (a static initialiser of the dashboard library), read by writers.
std::atomic<FlameGraphAssetsProvider> g_provider{nullptr};
}  // namespace

FlameGraphAssetsProvider register_flame_graph_assets(FlameGraphAssetsProvider provider) {
  return g_provider.exchange(provider, std::memory_order_acq_rel);
}

const FlameGraphAssets* flame_graph_assets() {
  const auto provider = g_provider.load(std::memory_order_acquire);
  return provider ? &provider() : nullptr;
}

}  // namespace codeprof::io
