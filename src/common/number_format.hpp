#pragma once
// Numbers for people to read: short, unit-bearing and locale-independent ("30.2 ms", "42.1 %",
// "1.5 MiB"). The findings' texts, the HTML report, the CLI's tables and the report reader's
// messages all print numbers this way.
#include <cstdint>
#include <string>

namespace codeprof::common {

std::string format_seconds(double seconds);  // "850 us", "30.2 ms", "1.25 s"
std::string format_percent(double ratio);    // 0.421 -> "42.1 %"
std::string format_bytes(double bytes);      // "512 B", "1.5 MiB" (sign kept)
std::string format_number(double value, int decimals = 1);
std::string format_count(std::uint64_t count);

}  // namespace codeprof::common
