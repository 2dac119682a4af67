#include "cli/input_files.hpp"

#include <filesystem>
#include <fstream>

#include "analysis/text_format.hpp"
#include "cli/progress.hpp"
#include "codeprof/trace_reader.hpp"
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

Input load_input(const std::string& path) { return load_input(path, io::TraceReadOptions{}.trace_event_budget); }

Input load_input(const std::string& path, std::uint64_t trace_event_budget) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw InputError(path + ": no such file");
  if (fs::is_directory(status)) throw InputError(path + ": is a directory, expected a report or trace file");
  const auto size = fs::file_size(path, ec);
  if (!ec && size == 0) throw InputError(path + ": the file is empty, expected a codeprof report or a trace");

  Input input;
  input.path = path;
  SlowTaskNotice notice("reading " + path + " (" + analysis::format_bytes(static_cast<double>(ec ? 0 : size)) + ")");
  try {
    // Reports start with "schema_version"; one whose keys were reordered (jq -S) still names it
    // early unless its operations come first. Everything else goes to the trace reader, whose
    // errors say at which byte and event a file stopped making sense.
    const io::TraceFormat format = io::detect_trace_format(path);
    if (format == io::TraceFormat::CodeprofReport ||
        (format == io::TraceFormat::Unknown && head_of(path).find("\"schema_version\"") != std::string::npos)) {
      input.kind = "codeprof report";
      io::Report report = io::read_report(path);
      input.snapshot = std::move(report.snapshot);
      input.saved_findings = std::move(report.findings);
      return input;
    }
    input.kind = "trace";
    io::TraceReadOptions options;
    options.trace_event_budget = trace_event_budget;
    options.progress = [&notice](std::uint64_t done, std::uint64_t total) { notice.update(done, total); };
    input.snapshot = io::read_trace_file(path, options);
    return input;
  } catch (const io::ReportError& e) {
    throw InputError(e.what());
  } catch (const io::TraceReadError& e) {
    throw InputError(e.what());
  }
}

}  // namespace codeprof::cli
