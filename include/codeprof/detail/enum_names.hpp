#pragma once
// The spellings of an enum that reports, the dashboard's API, Prometheus labels and the Python
// dicts write: one name per value, in the enum's declaration order. Each such enum (Category,
// MetricKind, Priority, Severity, TrendKind, ...) has one table and spells its to_string and
// *_from_string through these lookups, so a value and its name cannot drift apart.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace codeprof::detail {

template <typename Enum, std::size_t N>
constexpr std::string_view enum_name(const std::array<std::string_view, N>& names, Enum e) noexcept {
  return names[static_cast<std::size_t>(e)];
}

template <typename Enum, std::size_t N>
constexpr std::optional<Enum> enum_from_name(const std::array<std::string_view, N>& names, std::string_view s) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<Enum>(i);
  return std::nullopt;
}

// "a, b or c": the accepted spellings, for the message that refuses another one. An empty
// spelling shows as "" so it is visible.
template <std::size_t N>
std::string enum_names_list(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    out += i == 0 ? "" : i + 1 == N ? " or " : ", ";
    out += names[i].empty() ? std::string("\"\"") : std::string(names[i]);
  }
  return out;
}

}  // namespace codeprof::detail
