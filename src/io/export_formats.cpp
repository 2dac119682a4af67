// The list of export formats, their default file names, and write_export, which picks the writer.
#include <filesystem>
#include <string>

#include "codeprof/exporters.hpp"
#include "common/wall_clock.hpp"
#include "io/text_output.hpp"

namespace codeprof::io {
namespace {

struct FormatInfo {
  std::string_view name;
  std::string_view file_prefix;
  std::string_view extension;
};

// "json" keeps the report's original name: profiling_report_YYYYMMDD_HHMMSS.json.
constexpr FormatInfo kFormats[] = {
    {"json", "profiling_report_", ".json"},
    {"chrome", "profiling_trace_", ".json"},
    {"csv", "profiling_operations_", ".csv"},
    {"prometheus", "profiling_metrics_", ".prom"},
    {"html", "profiling_report_", ".html"},
    {"pprof", "profiling_cpu_", ".pb.gz"},
    {"folded", "profiling_stacks_", ".folded"},
    {"perfetto", "profiling_trace_", ".pftrace"},
};

const FormatInfo& format_info(std::string_view format) {
  for (const auto& f : kFormats)
    if (f.name == format) return f;
  std::string known;
  for (const auto& f : kFormats) known += (known.empty() ? "" : ", ") + std::string(f.name);
  throw WriteError("unknown export format '" + std::string(format) + "': expected one of " + known);
}

std::string render(std::string_view format, const Snapshot& snapshot, const Findings& findings) {
  if (format == "json") return to_json_report(snapshot, findings);
  if (format == "chrome") return to_chrome_trace(snapshot);
  if (format == "csv") return to_csv(snapshot);
  if (format == "prometheus") return to_prometheus(snapshot, findings);
  if (format == "pprof") return to_pprof(snapshot);
  if (format == "folded") return to_folded(snapshot);
  if (format == "perfetto") return to_perfetto_trace(snapshot);
  return to_html_report(snapshot, findings);
}

}  // namespace

const std::vector<std::string>& export_format_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& f : kFormats) v.emplace_back(f.name);
    return v;
  }();
  return names;
}

std::string default_file_name(std::string_view format, std::int64_t unix_ns) {
  const FormatInfo& f = format_info(format);
  return std::string(f.file_prefix) + local_file_timestamp(unix_ns) + std::string(f.extension);
}

std::string write_export(std::string_view format, const std::string& path, const Snapshot& snapshot,
                         const Findings& findings) {
  namespace fs = std::filesystem;
  format_info(format);  // an unknown format fails before anything is rendered
  std::string target = path;
  // A directory: "", a trailing '/', an existing directory, or a path that does not exist yet and
  // has no extension (Config::output_dir before the first export, e.g. "codeprof_output").
  std::error_code ec;
  const fs::path p(path);
  const bool names_directory = path.empty() || path.back() == '/' || fs::is_directory(p, ec) ||
                               (!fs::exists(p, ec) && !p.has_extension());
  if (names_directory) {
    const fs::path dir = path.empty() ? fs::path(".") : fs::path(path);
    target = (dir / default_file_name(format, common::unix_now_ns())).string();
  }
  write_file_atomic(target, render(format, snapshot, findings));
  return target;
}

}  // namespace codeprof::io
