#include "server/web_assets.hpp"

namespace codeprof::server {

// Defined in the generated web_assets_data.cpp.
extern const WebAsset kWebAssets[];
extern const std::size_t kWebAssetCount;

std::span<const WebAsset> web_assets() { return {kWebAssets, kWebAssetCount}; }

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const WebAsset& asset : web_assets())
    if (asset.path == path) return &asset;
  return nullptr;
}

}  // namespace codeprof::server
