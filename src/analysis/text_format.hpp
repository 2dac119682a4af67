#pragma once
// Numbers in findings' text: short, unit-bearing, locale-independent ("30.2 ms", "42.0 %", "1.5 MiB"),
// and the "{name}" template filling the rule catalogue uses.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace codeprof::analysis {

std::string format_seconds(double seconds);       // "850 us", "30.2 ms", "1.25 s"
std::string format_percent(double ratio);         // 0.421 -> "42.1 %"
std::string format_bytes(double bytes);           // "512 B", "1.5 MiB" (sign kept)
std::string format_number(double value, int decimals = 1);
std::string format_count(std::uint64_t count);

// A message kept on one line: control bytes (newlines, tabs, escape sequences a terminal would
// act on) written as \n, \r, \t or \xNN.
std::string one_line(std::string_view text);

// Replaces every {name} in `text` with values.at(name). A name without a value is kept as
// "{name}", so a missing value shows in the text instead of silently vanishing.
std::string render(std::string_view text, const std::map<std::string, std::string>& values);

}  // namespace codeprof::analysis
