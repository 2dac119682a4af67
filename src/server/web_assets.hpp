#pragma once
// The dashboard page's files, compiled into the binary at build time (embed_web_assets.cmake),
// so the page needs no network and no files at run time.
#include <cstddef>
#include <span>
#include <string_view>

namespace codeprof::server {

struct WebAsset {
  std::string_view path;          // URL path, e.g. "/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

std::span<const WebAsset> web_assets();
// The asset served at `path` ("/" is "/index.html"), or nullptr.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace codeprof::server
