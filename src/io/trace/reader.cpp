// The public trace reader: errors, format detection, and read_trace_file / read_trace_bytes,
// which stream the document (json_stream) into the builder (builder).
#include "codeprof/trace_reader.hpp"

#include <zlib.h>

#include <cstring>
#include <new>

#include "common/one_line.hpp"
#include "io/trace/builder.hpp"
#include "io/trace/input.hpp"
#include "io/trace/json_scanner.hpp"
#include "io/trace/json_stream.hpp"
#include "io/trace/no_position.hpp"
#include "io/trace/source_reader.hpp"

namespace codeprof::io {
namespace {

constexpr std::size_t kDetectBytes = 64 * 1024;
using trace::kNo;

std::string message(const std::string& file, std::uint64_t offset, std::uint64_t event, const std::string& problem) {
  std::string m = file + ": ";
  if (offset != kNo) m += "byte offset " + std::to_string(offset);
  if (event != kNo) m += (offset != kNo ? " (event " : "event ") + std::to_string(event) + (offset != kNo ? ")" : "");
  if (offset != kNo || event != kNo) m += ": ";
  return common::one_line(m + problem);
}

bool contains(std::string_view text, std::string_view needle) noexcept { return text.find(needle) != std::string_view::npos; }

bool has_kineto_signs(std::string_view t) noexcept {
  for (std::string_view sign : {"\"cpu_op\"", "\"cuda_runtime\"", "\"cuda_driver\"", "\"kernel\"", "\"gpu_memcpy\"",
                                "\"gpu_memset\"", "\"python_function\"", "\"user_annotation\"", "\"ProfilerStep#",
                                "\"schemaVersion\"", "\"deviceProperties\"", "\"distributedInfo\"", "\"Runtime\"",
                                "\"Kernel\"", "\"baseTimeNanoseconds\""})
    if (contains(t, sign)) return true;
  return false;
}

}  // namespace

namespace trace {

Snapshot read_trace_source(ByteSource& source, const std::string& name, const TraceReadOptions& options) {
  try {
    TraceBuilder builder(name, options);
    TraceJsonStream stream(source, name, options);
    stream.run(builder);
    return builder.finish(stream.events());
  } catch (const TraceReadError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw TraceReadError(name, kNo, kNo, "expected enough memory to read the trace");
  } catch (const std::exception& e) {
    throw TraceReadError(name, kNo, kNo, e.what());
  }
}

}  // namespace trace

TraceReadError::TraceReadError(std::string file, std::uint64_t byte_offset, std::uint64_t event_index,
                               const std::string& problem)
    : std::runtime_error(message(file, byte_offset, event_index, problem)),
      file_(std::move(file)),
      byte_offset_(byte_offset),
      event_index_(event_index) {}

std::string_view to_string(TraceFormat format) noexcept {
  switch (format) {
    case TraceFormat::CodeprofReport:
      return "codeprof-report";
    case TraceFormat::ChromeTrace:
      return "chrome-trace";
    case TraceFormat::KinetoTrace:
      return "kineto";
    case TraceFormat::Unknown:
      break;
  }
  return "unknown";
}

TraceFormat detect_trace_format_of(std::string_view head) noexcept {
  std::string inflated;
  if (trace::is_gzip_magic(head)) {
    // As much as the head inflates to, up to kDetectBytes; a cut-off stream is fine here.
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return TraceFormat::Unknown;
    inflated.resize(kDetectBytes);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(head.data()));
    z.avail_in = static_cast<uInt>(std::min<std::size_t>(head.size(), UINT32_MAX));
    z.next_out = reinterpret_cast<Bytef*>(inflated.data());
    z.avail_out = static_cast<uInt>(inflated.size());
    inflate(&z, Z_SYNC_FLUSH);
    inflated.resize(inflated.size() - z.avail_out);
    inflateEnd(&z);
    head = inflated;
  }
  std::size_t i = 0;
  if (head.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  while (i < head.size() && trace::is_json_space(head[i])) ++i;
  if (i >= head.size()) return TraceFormat::Unknown;
  const std::string_view rest = head.substr(i);
  if (rest[0] == '[') {
    if (has_kineto_signs(rest)) return TraceFormat::KinetoTrace;
    return contains(rest, "\"ph\"") ? TraceFormat::ChromeTrace : TraceFormat::Unknown;
  }
  if (rest[0] != '{') return TraceFormat::Unknown;
  std::size_t k = 1;
  while (k < rest.size() && trace::is_json_space(rest[k])) ++k;
  if (rest.substr(k, 16) == "\"schema_version\"") return TraceFormat::CodeprofReport;
  if (contains(rest, "\"producer\": \"codeprof") || contains(rest, "\"producer\":\"codeprof")) return TraceFormat::ChromeTrace;
  if (has_kineto_signs(rest)) return TraceFormat::KinetoTrace;
  if (contains(rest, "\"traceEvents\"")) return TraceFormat::ChromeTrace;
  return TraceFormat::Unknown;
}

TraceFormat detect_trace_format(const std::string& path) {
  auto source = trace::open_file_source(path);
  std::string head(kDetectBytes, '\0');
  std::size_t got = 0;
  try {
    while (got < head.size()) {
      const std::size_t n = source->read(head.data() + got, head.size() - got);
      if (n == 0) break;
      got += n;
    }
  } catch (const TraceReadError&) {
    if (got == 0) return TraceFormat::Unknown;  // not even the start inflates
  }
  head.resize(got);
  return detect_trace_format_of(head);
}

Snapshot read_trace_file(const std::string& path, const TraceReadOptions& options) {
  std::unique_ptr<trace::ByteSource> source;
  try {
    source = trace::open_file_source(path);
  } catch (const TraceReadError&) {
    throw;
  } catch (const std::exception& e) {
    throw TraceReadError(path, kNo, kNo, e.what());
  }
  return trace::read_trace_source(*source, path, options);
}

Snapshot read_trace_bytes(std::string_view bytes, const std::string& name, const TraceReadOptions& options) {
  auto source = trace::open_memory_source(bytes, name);
  return trace::read_trace_source(*source, name, options);
}

}  // namespace codeprof::io
