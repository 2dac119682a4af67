#pragma once
// Small text helpers the writers share: escaping for JSON and HTML, numbers in their shortest
// exact form, and wall-clock times (now: common/wall_clock.hpp).
#include <cstdint>
#include <string>
#include <string_view>

namespace codeprof::io {

// Appends `s` as a JSON string literal (quotes included). Invalid UTF-8 becomes U+FFFD, so the
// output is always valid JSON whatever bytes an operation name holds.
void append_json_string(std::string& out, std::string_view s);
// `s` with invalid UTF-8 sequences replaced by U+FFFD.
std::string valid_utf8(std::string_view s);
// Escapes & < > " ' for HTML text and attribute values (after making the text valid UTF-8).
std::string html_escape(std::string_view s);

// Shortest decimal form that reads back as the same double ("0.25", "1e-09"); "NaN", "+Inf", "-Inf"
// for the non-finite values (the Prometheus spelling).
std::string format_double(double v);

// Wall-clock time as ISO 8601 UTC with milliseconds: "2026-11-24T09:30:00.123Z".
std::string iso8601_utc(std::int64_t unix_ns);
// Local time as "YYYYMMDD_HHMMSS" (as in the report file names).
std::string local_file_timestamp(std::int64_t unix_ns);

}  // namespace codeprof::io
