// The list of export formats, their default file names, write_export, which picks the writer, and
// write_exports, which writes several formats into one directory (export_all, Snapshot.export).
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

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

std::vector<std::string> write_exports(const std::vector<std::string>& formats, const std::string& directory,
                                       const Snapshot& snapshot, const Findings& findings) {
  namespace fs = std::filesystem;
  for (const auto& format : formats) format_info(format);  // an unknown format fails before anything is written
  const fs::path dir = directory.empty() ? fs::path(".") : fs::path(directory);
  // Always a directory: several files go into it, so a path naming a file would be overwritten by
  // each format in turn (the user's file lost, only the last format left).
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (fs::exists(status) && !fs::is_directory(status))
    throw WriteError("cannot export to " + dir.string() + ": it exists and is not a directory (expected a directory to write the reports into)");
  // Everything is rendered before the first file is written: a writer that fails leaves no files.
  const std::int64_t now = common::unix_now_ns();  // one timestamp names every file
  std::vector<std::pair<std::string, std::string>> files;  // file name, content
  for (const auto& format : formats) {
    files.emplace_back(default_file_name(format, now), render(format, snapshot, findings));
    // The program's own metrics: a second table next to the operations' (docs/METRICS.md).
    if (format == "csv" && !snapshot.custom_metrics.empty())
      files.emplace_back("profiling_custom_metrics_" + local_file_timestamp(now) + ".csv", to_metrics_csv(snapshot));
  }
  if (!fs::is_directory(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
      throw WriteError("cannot export to " + dir.string() + ": cannot create the directory" + (ec ? ": " + ec.message() : ""));
  }
  std::vector<std::string> paths;
  for (const auto& [name, content] : files) {
    paths.push_back((dir / name).string());
    write_file_atomic(paths.back(), content);
  }
  return paths;
}

}  // namespace codeprof::io
