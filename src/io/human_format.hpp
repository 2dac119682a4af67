#pragma once
// Numbers for people (the HTML report and the CLI's text output): three significant digits and a
// unit that fits, e.g. "12.3 ms", "1.50 GiB", "42.0%".
#include <cstdint>
#include <string>

namespace codeprof::io {

std::string human_seconds(double seconds);      // "850 ns", "12.3 ms", "4.56 s", "1h 02m 03s"; NaN -> "n/a"
std::string human_ns(double nanoseconds);       // human_seconds of nanoseconds
std::string human_bytes(double bytes);          // "512 B", "1.50 MiB" (binary units); negatives keep the sign
std::string human_share(double fraction);       // 0.42 -> "42.0%"
std::string human_count(std::uint64_t n);       // 1234567 -> "1,234,567"

}  // namespace codeprof::io
