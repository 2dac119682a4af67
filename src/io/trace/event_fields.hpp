#pragma once
// Reads the fields of one trace event that the reader uses, from simdjson's On Demand object,
// in whatever order they come. Timestamps ("ts", "dur": microseconds, integer or fractional) are
// converted to integer nanoseconds exactly from their text, not through a double. Required
// fields with the wrong type are a ValueProblem; "args" are free-form, so unexpected types there
// are ignored. String views point into the parser's buffers: valid until the next window.
#include <cstdint>
#include <string_view>
#include <vector>

#include "io/trace/json_stream.hpp"

namespace codeprof::io::trace {

// |ts| and |dur| above this many microseconds (about 95 years) are rejected as absurd, which also
// keeps every end minus the earliest start within int64 nanoseconds.
inline constexpr std::int64_t kMaxMicros = 3'000'000'000'000'000;

// a + b for non-negative a and b, stopping at INT64_MAX (sums of absurd inputs must not overflow).
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

enum class NumberParse : std::uint8_t { Ok, NotANumber, OutOfRange };
// "12", "-3", "1682725898236567", "4203669604595.407", "68.0", "1.5e3" -> nanoseconds (rounded).
NumberParse micros_to_nanos(std::string_view token, std::int64_t& ns) noexcept;
// A JSON integer token (no fraction/exponent) -> value; false otherwise.
bool parse_integer(std::string_view token, std::int64_t& value) noexcept;

// Which "args" the reader needs for an event.
enum class ArgsWanted : std::uint8_t { None, Gpu, Metadata, Counter, All };

struct CounterValue {
  std::string_view key;
  double value;
};

struct EventFields {
  char ph = 0;
  std::string_view ph_text;
  bool has_cat = false, has_name = false, has_ts = false, has_dur = false;
  std::string_view cat, name;
  std::string_view pid, tid;  // raw tokens: numbers as written, strings without their quotes
  bool has_pid = false, has_tid = false;
  std::int64_t ts_ns = 0, dur_ns = 0;

  bool has_correlation = false, has_bytes = false, has_device = false, has_stream = false;
  std::int64_t correlation = 0, bytes = 0, device = 0, stream = 0;
  bool has_arg_name = false;
  std::string_view arg_name;
  std::vector<CounterValue> counters;  // numeric args of "C" events

  void clear() noexcept {
    std::vector<CounterValue> keep = std::move(counters);
    keep.clear();
    *this = EventFields{};
    counters = std::move(keep);
  }
};

// Decides from the fields read so far (ph, cat) which args to keep; called when "args" is reached.
struct ArgsPolicy {
  ArgsWanted (*decide)(const EventFields& so_far, void* context) noexcept;
  void* context;
};

// Reads `event` into `out` (cleared first). Throws ValueProblem.
void read_event_fields(ondemand::object& event, EventFields& out, ArgsPolicy policy);

}  // namespace codeprof::io::trace
