#include "cli/input_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli/progress.hpp"
#include "codeprof/trace_reader.hpp"
#include "common/number_format.hpp"
#include "io/report_reader.hpp"
#include "io/trace/input.hpp"
#include "io/trace/source_reader.hpp"

namespace codeprof::cli {
namespace {

// Enough of the start to tell a report from a trace (the trace reader's detection reads as much).
constexpr std::size_t kHeadBytes = 64 * 1024;

// Why open() failed, naming the real cause.
std::string open_problem(int error) {
  switch (error) {
    case ENOENT:
      return "no such file";
    case ELOOP:
      return "too many levels of symbolic links (a symbolic link loop?)";
    case EACCES:
      return "permission denied";
    case ENOTDIR:
      return "a part of the path is not a directory";
    default:
      return std::string("cannot open it: ") + std::strerror(error);
  }
}

}  // namespace

Input load_input(const std::string& path) { return load_input(path, io::TraceReadOptions{}.trace_event_budget); }

Input load_input(const std::string& path, std::uint64_t trace_event_budget) {
  // Opened once and read from the start to the end: a FIFO, a pipe or a process substitution
  // (<(zcat r.json.gz)) would not survive being opened twice. The format is told from the first
  // bytes read, which the reader then gets back.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw InputError(path + ": " + open_problem(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw InputError(path + ": is a directory, expected a report or trace file");
  }
  const bool regular = S_ISREG(st.st_mode);

  Input input;
  input.path = path;
  // Sizes of pipes and of /proc files are unknown (0): the notice then says how much was read.
  SlowTaskNotice notice("reading " + path +
                        (regular && st.st_size > 0 ? " (" + common::format_bytes(static_cast<double>(st.st_size)) + ")" : ""));
  try {
    std::unique_ptr<io::trace::ByteSource> source = io::trace::open_descriptor_source(fd, path);
    std::string head = io::trace::read_head(*source, kHeadBytes);
    if (head.empty()) throw InputError(path + ": the file is empty, expected a codeprof report or a trace");
    // Reports start with "schema_version"; one whose keys were reordered (jq -S) still names it
    // early unless its operations come first. Everything else goes to the trace reader, whose
    // errors say at which byte and event a file stopped making sense.
    const io::TraceFormat format = io::detect_trace_format_of(head);
    const bool report = format == io::TraceFormat::CodeprofReport ||
                        (format == io::TraceFormat::Unknown && head.find("\"schema_version\"") != std::string::npos);
    source = io::trace::with_head(std::move(head), std::move(source));
    if (report) {
      input.kind = "codeprof report";
      io::Report r = io::read_report_source(*source, path);
      input.snapshot = std::move(r.snapshot);
      input.saved_findings = std::move(r.findings);
      return input;
    }
    input.kind = "trace";
    io::TraceReadOptions options;
    options.trace_event_budget = trace_event_budget;
    options.progress = [&notice](std::uint64_t done, std::uint64_t total) { notice.update(done, total); };
    input.snapshot = io::trace::read_trace_source(*source, path, options);
    return input;
  } catch (const io::ReportError& e) {
    throw InputError(e.what());
  } catch (const io::TraceReadError& e) {
    throw InputError(e.what());
  }
}

}  // namespace codeprof::cli
