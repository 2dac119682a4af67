// libFuzzer target for the Chrome / Kineto trace reader: any bytes (JSON or gzip) either read
// into a consistent Snapshot or end in a one-line TraceReadError naming the input. Anything
// else (another exception, a sanitizer report, a broken invariant) aborts the run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "codeprof/trace_reader.hpp"

namespace {

[[noreturn]] void broken(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "trace reader invariant broken: %s %s\n", what, detail.c_str());
  std::abort();
}

void check(const codeprof::Snapshot& s) {
  for (const auto& op : s.operations) {
    if (op.count == 0) broken("operation without calls", op.name);
    if (op.self_ns > op.total_ns) broken("self time above total", op.name);
    if (op.min_ns > op.max_ns || op.max_ns > op.total_ns) broken("min/max", op.name);
    if (op.p50_ns < op.min_ns || op.p99_ns > op.max_ns) broken("percentiles outside [min, max]", op.name);
  }
  for (const auto& step : s.steps)
    if (step.end_ns < step.start_ns) broken("step ends before it starts");
  for (const auto& d : s.devices) {
    if (d.busy_ns < 0 || d.busy_in_steps_ns < 0 || d.busy_in_steps_ns > d.busy_ns) broken("device busy time");
    if (d.busy_ns > d.kernel_ns + d.memcpy_ns + d.memset_ns) broken("busy above the sum of activities");
  }
  if (s.sync_ns < 0 || s.run.wall_ns < 0) broken("negative time");
  if (s.trace_events.size() > 100'000) broken("trace sample above its budget");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    check(codeprof::io::read_trace_bytes(bytes, "<fuzz>"));
  } catch (const codeprof::io::TraceReadError& e) {
    const std::string message = e.what();
    if (message.rfind("<fuzz>: ", 0) != 0) broken("error without the file name", message);
    if (message.find('\n') != std::string::npos) broken("error on several lines", message);
    if (message.find("expected") == std::string::npos) broken("error without what was expected", message);
  } catch (const std::exception& e) {
    broken("exception other than TraceReadError", e.what());
  }
  (void)codeprof::io::detect_trace_format_of(bytes);
  return 0;
}
