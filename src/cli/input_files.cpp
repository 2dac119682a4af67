#include "cli/input_files.hpp"

#include <filesystem>
#include <fstream>

#include "cli/progress.hpp"
#include "analysis/text_format.hpp"
#include "io/report_reader.hpp"

namespace codeprof::cli {
namespace {

std::string head_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the file for reading");
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

}  // namespace

Input load_input(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw InputError(path + ": no such file");
  if (fs::is_directory(status)) throw InputError(path + ": is a directory, expected a report or trace file");
  const auto size = fs::file_size(path, ec);

  const std::string head = head_of(path);
  if (head.empty()) throw InputError(path + ": the file is empty, expected a codeprof report or a trace");

  Input input;
  input.path = path;
  SlowTaskNotice notice("reading " + path + " (" + analysis::format_bytes(static_cast<double>(ec ? 0 : size)) + ")");
  // Reports start with "schema_version"; a report whose keys were reordered (jq -S) still
  // names it early unless its operations come first. Kineto traces spell it schemaVersion.
  if (io::looks_like_json_report(head) || head.find("\"schema_version\"") != std::string::npos) {
    input.kind = "codeprof report";
    try {
      io::Report report = io::read_report(path);
      input.snapshot = std::move(report.snapshot);
      input.saved_findings = std::move(report.findings);
    } catch (const io::ReportError& e) {
      throw InputError(e.what());
    }
    return input;
  }
  throw InputError(path + ": not a codeprof report (expected a JSON object whose first key is \"schema_version\")");
}

}  // namespace codeprof::cli
