#include "common/number_format.hpp"

#include <cmath>
#include <cstdio>

namespace codeprof::common {
namespace {

std::string printf_string(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

}  // namespace

std::string format_seconds(double s) {
  const double a = std::fabs(s);
  if (a == 0.0) return "0 s";
  if (a < 1e-6) return printf_string("%.0f ns", s * 1e9);
  if (a < 1e-3) return printf_string("%.0f us", s * 1e6);
  if (a < 1.0) return printf_string("%.1f ms", s * 1e3);
  if (a < 100.0) return printf_string("%.2f s", s);
  return printf_string("%.0f s", s);
}

std::string format_percent(double ratio) { return printf_string("%.1f %%", ratio * 100.0); }

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = bytes;
  int u = 0;
  while (std::fabs(v) >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  if (u == 0) return printf_string("%.0f B", v);
  return printf_string("%.1f ", v) + kUnits[u];
}

std::string format_number(double value, int decimals) {
  char fmt[16];
  std::snprintf(fmt, sizeof fmt, "%%.%df", decimals < 0 ? 0 : (decimals > 9 ? 9 : decimals));
  return printf_string(fmt, value);
}

std::string format_count(std::uint64_t count) { return std::to_string(count); }

}  // namespace codeprof::common
