#include "io/trace/event_fields.hpp"

#include <charconv>
#include <cmath>
#include <string>

#include "io/trace/json_errors.hpp"
#include "io/trace/json_scanner.hpp"

namespace codeprof::io::trace {
namespace {

std::string_view trim(std::string_view t) noexcept {
  while (!t.empty() && is_json_space(t.back())) t.remove_suffix(1);
  return t;
}

std::string snippet(std::string_view t) {
  t = trim(t);
  std::string s(t.substr(0, 40));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return t.size() > 40 ? s + "..." : s;
}

bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

// The raw token of a number or string value: numbers as written, strings without quotes.
std::string_view token_of(ondemand::value& v, const char* field) {
  std::string_view t = trim(v.raw_json_token());
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') return t.substr(1, t.size() - 2);
  if (!t.empty() && (digit(t.front()) || t.front() == '-')) return t;
  throw ValueProblem(std::string("expected \"") + field + "\" to be a number or a string, found " + snippet(t));
}

std::string_view string_of(ondemand::value& v, const char* field) {
  std::string_view s;
  if (v.get_string().get(s)) throw ValueProblem(std::string("expected \"") + field + "\" to be a string");
  return s;
}

// A string field without escapes is used in place (no copy into the parser's string buffer);
// stage 1 has already checked its UTF-8 and control characters.
std::string_view plain_string_of(ondemand::value& v, const char* field) {
  const std::string_view t = trim(v.raw_json_token());
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"' && t.find('\\') == std::string_view::npos)
    return t.substr(1, t.size() - 2);
  return string_of(v, field);
}

std::int64_t micros_of(ondemand::value& v, const char* field) {
  std::int64_t ns = 0;
  const std::string_view t = v.raw_json_token();
  switch (micros_to_nanos(t, ns)) {
    case NumberParse::Ok:
      return ns;
    case NumberParse::NotANumber:
      throw ValueProblem(std::string("expected \"") + field + "\" to be a number of microseconds, found " + snippet(t));
    case NumberParse::OutOfRange:
      break;
  }
  throw ValueProblem(std::string("expected \"") + field + "\" within +-3e15 microseconds, found " + snippet(t));
}

bool integer_of(ondemand::value& v, std::int64_t& out) noexcept {
  return parse_integer(trim(v.raw_json_token()), out);
}

void read_args(ondemand::value& value, EventFields& out, ArgsWanted wanted) {
  ondemand::object args;
  if (value.get_object().get(args)) return;  // free-form: a non-object "args" is ignored
  const bool gpu = wanted == ArgsWanted::Gpu || wanted == ArgsWanted::All;
  const bool meta = wanted == ArgsWanted::Metadata || wanted == ArgsWanted::All;
  const bool counter = wanted == ArgsWanted::Counter || wanted == ArgsWanted::All;
  for (auto result : args) {
    ondemand::field field;
    if (auto err = std::move(result).get(field))
      throw ValueProblem(std::string("expected valid JSON in \"args\": ") + json_error_text(err));
    std::string_view key;
    if (field.unescaped_key().get(key)) throw ValueProblem("expected valid keys in \"args\"");
    ondemand::value& v = field.value();
    if (gpu) {
      if (key == "correlation") {
        out.has_correlation = integer_of(v, out.correlation);
        continue;
      }
      if (key == "bytes") {
        out.has_bytes = integer_of(v, out.bytes);
        continue;
      }
      if (key == "device") {
        out.has_device = integer_of(v, out.device);
        continue;
      }
      if (key == "stream") {
        out.has_stream = integer_of(v, out.stream);
        continue;
      }
    }
    if (meta && key == "name") {
      out.has_arg_name = !v.get_string().get(out.arg_name);
      continue;
    }
    if (counter) {
      ondemand::json_type type;
      if (v.type().get(type) || type != ondemand::json_type::number) continue;
      double d = 0;
      if (v.get_double().get(d) || !std::isfinite(d)) continue;
      if (out.counters.size() < 64) out.counters.push_back({key, d});
    }
  }
}

}  // namespace


NumberParse micros_to_nanos(std::string_view t, std::int64_t& ns) noexcept {
  t = trim(t);
  if (t.empty()) return NumberParse::NotANumber;
  std::size_t i = 0;
  const bool negative = t[0] == '-';
  if (negative) ++i;
  const std::size_t int_begin = i;
  while (i < t.size() && digit(t[i])) ++i;
  const std::size_t int_digits = i - int_begin;
  if (int_digits == 0) return NumberParse::NotANumber;
  std::size_t frac_begin = i, frac_digits = 0;
  if (i < t.size() && t[i] == '.') {
    frac_begin = ++i;
    while (i < t.size() && digit(t[i])) ++i;
    frac_digits = i - frac_begin;
    if (frac_digits == 0) return NumberParse::NotANumber;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    // Rare: go through a double, then range-check.
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    const std::size_t exp_begin = i;
    while (i < t.size() && digit(t[i])) ++i;
    if (i == exp_begin || i != t.size()) return NumberParse::NotANumber;
    double x = 0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), x);
    if (r.ec == std::errc::result_out_of_range) return NumberParse::OutOfRange;
    if (r.ec != std::errc() || !std::isfinite(x)) return NumberParse::NotANumber;
    if (std::fabs(x) > static_cast<double>(kMaxMicros)) return NumberParse::OutOfRange;
    ns = std::llround(x * 1000.0);
    return NumberParse::Ok;
  }
  if (i != t.size()) return NumberParse::NotANumber;
  // Exact: integer microseconds * 1000 + the first three fraction digits, rounded on the fourth.
  std::size_t first = int_begin;
  while (first + 1 < int_begin + int_digits && t[first] == '0') ++first;  // leading zeros
  if (int_begin + int_digits - first > 16) return NumberParse::OutOfRange;
  std::int64_t micros = 0;
  for (std::size_t k = first; k < int_begin + int_digits; ++k) micros = micros * 10 + (t[k] - '0');
  if (micros > kMaxMicros) return NumberParse::OutOfRange;
  std::int64_t frac = 0;
  for (std::size_t k = 0; k < 3; ++k) frac = frac * 10 + (k < frac_digits ? t[frac_begin + k] - '0' : 0);
  if (frac_digits > 3 && t[frac_begin + 3] >= '5') ++frac;
  const std::int64_t value = micros * 1000 + frac;
  ns = negative ? -value : value;
  return NumberParse::Ok;
}

bool parse_integer(std::string_view t, std::int64_t& value) noexcept {
  if (t.empty()) return false;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), value);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

void read_event_fields(ondemand::object& event, EventFields& out, ArgsPolicy policy) {
  out.clear();
  for (auto result : event) {
    ondemand::field field;
    if (auto err = std::move(result).get(field))
      throw ValueProblem(std::string("expected valid JSON in the event: ") + json_error_text(err));
    const ondemand::raw_json_string key = field.key();
    ondemand::value& v = field.value();
    switch (key.raw()[0]) {
      case 'p':
        if (key == "ph") {
          out.ph_text = plain_string_of(v, "ph");
          out.ph = out.ph_text.size() == 1 ? out.ph_text[0] : '?';
        } else if (key == "pid") {
          out.pid = token_of(v, "pid");
          out.has_pid = true;
        }
        break;
      case 'c':
        if (key == "cat") {
          out.cat = plain_string_of(v, "cat");
          out.has_cat = true;
        }
        break;
      case 'n':
        if (key == "name") {
          out.name = plain_string_of(v, "name");
          out.has_name = true;
        }
        break;
      case 't':
        if (key == "ts") {
          out.ts_ns = micros_of(v, "ts");
          out.has_ts = true;
        } else if (key == "tid") {
          out.tid = token_of(v, "tid");
          out.has_tid = true;
        }
        break;
      case 'd':
        if (key == "dur") {
          out.dur_ns = micros_of(v, "dur");
          out.has_dur = true;
        }
        break;
      case 'a':
        if (key == "args") read_args(v, out, policy.decide(out, policy.context));
        break;
      default:
        break;
    }
  }
}

}  // namespace codeprof::io::trace
