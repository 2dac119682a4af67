#pragma once
// The style sheet and the chart script of the HTML report (web/report/report.css and report.js),
// compiled into the library at build time (src/server/embed_web_assets.cmake, as the dashboard's
// page) and inlined into every report so that it opens without a network. The script draws SVG
// charts from the JSON in #codeprof-data and marks <html> with data-codeprof-rendered="yes" (and
// data-codeprof-error on a script error) so tests can check that the page rendered.
#include <cstddef>
#include <string_view>

namespace codeprof::io {

// One embedded file (the generated html_report_assets_data.cpp holds the table).
struct ReportAsset {
  std::string_view path;          // e.g. "/report.css"
  std::string_view content_type;  // e.g. "text/css; charset=utf-8"
  std::string_view body;
};

namespace html_assets {

std::string_view style();   // web/report/report.css
std::string_view script();  // web/report/report.js

}  // namespace html_assets
}  // namespace codeprof::io
