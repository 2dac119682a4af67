#include "io/html_report_assets.hpp"

#include <span>

namespace codeprof::io {

// Defined in the generated html_report_assets_data.cpp.
extern const ReportAsset kReportAssets[];
extern const std::size_t kReportAssetCount;

namespace html_assets {
namespace {

std::string_view body(std::string_view path) {
  for (const ReportAsset& asset : std::span(kReportAssets, kReportAssetCount))
    if (asset.path == path) return asset.body;
  return {};  // not reached: the build embeds both files or fails
}

}  // namespace

std::string_view style() { return body("/report.css"); }
std::string_view script() { return body("/report.js"); }

}  // namespace html_assets
}  // namespace codeprof::io
