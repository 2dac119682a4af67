#include "io/human_format.hpp"

#include <cmath>
#include <cstdio>

namespace codeprof::io {
namespace {

// Three significant digits for 1 <= |v| < 1000: "1.23", "12.3", "123".
std::string three_digits(double v, const char* unit) {
  const double a = std::fabs(v);
  const int decimals = a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f %s", decimals, v, unit);
  return buf;
}

}  // namespace

std::string human_seconds(double s) {
  if (!std::isfinite(s)) return "n/a";
  const double a = std::fabs(s);
  if (a == 0) return "0 s";
  if (a < 1e-6) return three_digits(s * 1e9, "ns");
  if (a < 1e-3) return three_digits(s * 1e6, "\xC2\xB5s");
  if (a < 1.0) return three_digits(s * 1e3, "ms");
  if (a < 600.0) return three_digits(s, "s");
  const auto total = static_cast<long long>(std::llround(a));
  char buf[48];
  if (total < 3600)
    std::snprintf(buf, sizeof buf, "%s%lldm %02llds", s < 0 ? "-" : "", total / 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%s%lldh %02lldm %02llds", s < 0 ? "-" : "", total / 3600, (total / 60) % 60,
                  total % 60);
  return buf;
}

std::string human_ns(double ns) { return human_seconds(ns / 1e9); }

std::string human_bytes(double bytes) {
  if (!std::isfinite(bytes)) return "n/a";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  const double a = std::fabs(bytes);
  if (a < 1024) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
    return buf;
  }
  double v = bytes / 1024;
  std::size_t unit = 0;
  while (std::fabs(v) >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return three_digits(v, kUnits[unit]);
}

std::string human_share(double fraction) {
  if (!std::isfinite(fraction)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100.0);
  return buf;
}

std::string human_count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace codeprof::io
