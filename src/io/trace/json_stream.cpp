#include "io/trace/json_stream.hpp"

#include <algorithm>
#include <cstring>

#include "io/trace/json_errors.hpp"
#include "io/trace/json_scanner.hpp"
#include "io/trace/no_position.hpp"

namespace codeprof::io::trace {
namespace {

constexpr std::size_t kReadChunk = std::size_t{4} << 20;
constexpr std::size_t kMinRead = std::size_t{64} << 10;

std::string describe(int c) {
  if (c < 0) return "the end of the file";
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  static const char* hex = "0123456789abcdef";
  return std::string("byte 0x") + hex[(c >> 4) & 0xf] + hex[c & 0xf];
}

std::string megabytes(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

TraceJsonStream::TraceJsonStream(ByteSource& source, std::string name, const TraceReadOptions& options)
    : source_(source), name_(std::move(name)), options_(options) {
  // Small inputs get a small buffer; large ones two read chunks (grown for larger events).
  capacity_ = static_cast<std::size_t>(std::clamp<std::uint64_t>(source.total() + 1, kMinRead, 2 * kReadChunk));
  storage_.reset(new char[capacity_ + 2 + simdjson::SIMDJSON_PADDING]);  // not zeroed: pages stay untouched until read into
  data_ = storage_.get() + 1;  // one byte in front for the '[' of a window
  std::memset(data_, ' ', simdjson::SIMDJSON_PADDING);
}

TraceJsonStream::~TraceJsonStream() = default;

void TraceJsonStream::fail(std::uint64_t offset, std::uint64_t event_index, const std::string& what) const {
  throw TraceReadError(name_, offset, event_index, what);
}

void TraceJsonStream::report_progress() {
  if (!options_.progress) return;
  const std::uint64_t done = source_.consumed();
  if (done - last_progress_ < kReadChunk && done != source_.total()) return;
  last_progress_ = done;
  options_.progress(done, source_.total());
}

bool TraceJsonStream::fill() {
  if (eof_) return false;
  if (capacity_ - len_ < kMinRead) {
    // Grow only when the kept bytes (one large value, or a small first buffer) leave little room.
    const std::size_t grown = std::max(capacity_ * 2, len_ + kReadChunk);
    std::unique_ptr<char[]> bigger(new char[grown + 2 + simdjson::SIMDJSON_PADDING]);
    std::memcpy(bigger.get() + 1, data_, len_);
    storage_ = std::move(bigger);
    data_ = storage_.get() + 1;
    capacity_ = grown;
  }
  const std::size_t got = source_.read(data_ + len_, std::min(kReadChunk, capacity_ - len_));
  report_progress();
  if (got == 0) {
    eof_ = true;
    return false;
  }
  len_ += got;
  std::memset(data_ + len_, ' ', simdjson::SIMDJSON_PADDING);  // simdjson may look past the end
  return true;
}

void TraceJsonStream::compact(std::uint64_t keep_from) {
  const auto shift = static_cast<std::size_t>(keep_from - base_);
  if (shift == 0) return;
  std::memmove(data_, data_ + shift, len_ - shift);
  len_ -= shift;
  base_ = keep_from;
  std::memset(data_ + len_, ' ', simdjson::SIMDJSON_PADDING);
}

int TraceJsonStream::peek_nonspace() {
  for (;;) {
    while (pos_ < base_ + len_) {
      const char c = data_[pos_ - base_];
      if (!is_json_space(c)) return static_cast<unsigned char>(c);
      ++pos_;
    }
    compact(pos_);
    if (!fill()) return -1;
  }
}

void TraceJsonStream::expect(char c, const char* what) {
  const int got = peek_nonspace();
  if (got != static_cast<unsigned char>(c)) fail(pos_, kNo, std::string("expected ") + what + ", found " + describe(got));
  ++pos_;
}

std::uint64_t TraceJsonStream::scan_value() {
  const std::uint64_t begin = pos_;
  ValueScanner scanner;
  scanner.start(data_[begin - base_], begin);
  std::uint64_t p = begin;
  for (;;) {
    if (scanner.scan(data_, base_, p, base_ + len_, eof_)) {
      if (scanner.too_deep())
        fail(p, kNo, "expected JSON nested at most " + std::to_string(kMaxJsonDepth) + " levels deep");
      return p;
    }
    if (eof_) fail(begin, kNo, "expected the rest of this value, found the end of the file (truncated?)");
    if (p - begin > options_.max_value_bytes)
      fail(begin, kNo, "expected a top-level value smaller than " + megabytes(options_.max_value_bytes));
    compact(begin);
    fill();
  }
}

std::string TraceJsonStream::read_key() {
  const std::uint64_t begin = pos_;
  const std::uint64_t end = scan_value();
  std::string_view raw(data_ + (begin - base_), static_cast<std::size_t>(end - begin));
  pos_ = end;
  if (raw.find('\\') == std::string_view::npos) return std::string(raw.substr(1, raw.size() - 2));
  simdjson::padded_string padded(raw);
  std::string_view key;
  auto doc = value_parser_.iterate(padded);
  if (doc.error() || doc.get_string().get(key)) fail(begin, kNo, "expected a valid JSON string as key");
  return std::string(key);
}

void TraceJsonStream::top_level_value(TraceStreamHandler& h, const std::string& key) {
  const int c = peek_nonspace();
  if (c < 0) fail(pos_, kNo, "expected a value for key \"" + key + "\", found the end of the file");
  const std::uint64_t begin = pos_;
  const std::uint64_t end = scan_value();
  pos_ = end;
  if (!h.wants_top_level(key)) return;
  // Wrapped in an array so that scalars are values too.
  std::string text;
  text.reserve(static_cast<std::size_t>(end - begin) + 2);
  text += '[';
  text.append(data_ + (begin - base_), static_cast<std::size_t>(end - begin));
  text += ']';
  simdjson::padded_string padded(text);
  // Top-level values are small and rare: validate them fully (On Demand checks only what it reads).
  if (auto err = validator_.parse(padded).error())
    fail(begin, kNo, "expected valid JSON for key \"" + key + "\": " + json_error_text(err));
  auto where = [&](ondemand::document& d) {
    auto loc = d.current_location();
    if (loc.error()) return begin;
    const auto off = static_cast<std::uint64_t>(loc.value_unsafe() - padded.data());
    return off ? begin + off - 1 : begin;
  };
  ondemand::document doc;
  if (auto err = value_parser_.iterate(padded).get(doc))
    fail(begin, kNo, "expected valid JSON for key \"" + key + "\": " + json_error_text(err));
  try {
    ondemand::array arr;
    if (auto err = doc.get_array().get(arr))
      fail(begin, kNo, "expected valid JSON for key \"" + key + "\": " + json_error_text(err));
    for (auto element : arr) {
      ondemand::value v;
      if (auto err = element.get(v))
        fail(where(doc), kNo, "expected valid JSON for key \"" + key + "\": " + json_error_text(err));
      h.on_top_level(key, v);
      break;
    }
  } catch (const ValueProblem& p) {
    fail(where(doc), kNo, "key \"" + key + "\": " + p.what());
  }
}

void TraceJsonStream::run(TraceStreamHandler& h) {
  int c = peek_nonspace();
  if (c == 0xEF && pos_ + 3 <= base_ + len_ && std::memcmp(data_ + (pos_ - base_), "\xEF\xBB\xBF", 3) == 0) {
    pos_ += 3;  // UTF-8 byte order mark
    c = peek_nonspace();
  }
  if (c < 0) fail(0, kNo, "expected a JSON object or array, found an empty file");
  if (c == '[') {
    ++pos_;
    h.on_bare_array();
    found_events_ = true;
    stream_events(h);
  } else if (c == '{') {
    ++pos_;
    c = peek_nonspace();
    while (c != '}') {
      if (c != '"') fail(pos_, kNo, "expected a key string in the top-level object, found " + describe(c));
      const std::string key = read_key();
      expect(':', "':' after a key");
      if (key == "traceEvents") {
        c = peek_nonspace();
        if (c != '[') fail(pos_, kNo, "expected \"traceEvents\" to be an array, found " + describe(c));
        if (found_events_) fail(pos_, kNo, "expected one \"traceEvents\" array, found a second one");
        ++pos_;
        found_events_ = true;
        stream_events(h);
      } else {
        top_level_value(h, key);
      }
      c = peek_nonspace();
      if (c == ',') {
        ++pos_;
        c = peek_nonspace();
        if (c == '}') fail(pos_, kNo, "expected a key after ',', found '}'");
      } else if (c != '}') {
        fail(pos_, kNo, "expected ',' or '}' in the top-level object, found " + describe(c));
      }
    }
    ++pos_;
  } else {
    fail(pos_, kNo, "expected a JSON object or array, found " + describe(c));
  }
  c = peek_nonspace();
  if (c >= 0) fail(pos_, kNo, "expected the end of the file after the top-level value, found " + describe(c));
  if (!found_events_) fail(kNo, kNo, "expected a \"traceEvents\" array in the top-level object, found none");
}

void TraceJsonStream::stream_events(TraceStreamHandler& h) {
  ArrayScanner scanner(pos_);
  for (;;) {
    const auto status = scanner.scan(data_, base_, base_ + len_, eof_);
    if (status == ArrayScanner::Status::Error) fail(scanner.error_offset(), scanner.elements_seen(), scanner.error());
    if (scanner.batch_count()) {
      parse_batch(h, scanner.batch_begin(), scanner.batch_end(), scanner.batch_count(), events_);
      events_ += scanner.batch_count();
      scanner.take_batch();
    }
    if (status == ArrayScanner::Status::Closed) {
      pos_ = scanner.position();
      return;
    }
    if (eof_) {
      if (scanner.in_element())
        fail(scanner.element_begin(), scanner.elements_seen(),
             "expected the rest of this event, found the end of the file (truncated?)");
      fail(base_ + len_, scanner.elements_seen(),
           "expected ',' or ']' to continue \"traceEvents\", found the end of the file (truncated?)");
    }
    if (scanner.in_element() && base_ + len_ - scanner.element_begin() > options_.max_value_bytes)
      fail(scanner.element_begin(), scanner.elements_seen(),
           "expected events smaller than " + megabytes(options_.max_value_bytes));
    compact(scanner.keep_from());
    fill();
  }
}

void TraceJsonStream::parse_batch(TraceStreamHandler& h, std::uint64_t begin, std::uint64_t end, std::uint64_t count,
                                  std::uint64_t first_index) {
  // The window becomes "[" + events + "]" in place: the byte before the first event and the one
  // after the last are borrowed and restored.
  char* doc_start = data_ + (begin - base_) - 1;
  const auto n = static_cast<std::size_t>(end - begin) + 2;
  struct Borrow {
    char* front;
    char* back;
    char saved_front, saved_back;
    ~Borrow() {
      *front = saved_front;
      *back = saved_back;
    }
  } borrow{doc_start, doc_start + n - 1, doc_start[0], doc_start[n - 1]};
  doc_start[0] = '[';
  doc_start[n - 1] = ']';
  const auto allocated = static_cast<std::size_t>(storage_.get() + capacity_ + 2 + simdjson::SIMDJSON_PADDING - doc_start);

  ondemand::document doc;
  if (auto err = events_parser_.iterate(doc_start, n, allocated).get(doc)) {
    locate_batch_error(begin, end, first_index, err);
  }
  auto where = [&]() -> std::uint64_t {
    auto loc = doc.current_location();
    if (loc.error()) return begin;
    const char* p = loc.value_unsafe();
    if (p <= doc_start || p >= doc_start + n) return begin;
    return begin - 1 + static_cast<std::uint64_t>(p - doc_start);
  };
  ondemand::array events;
  if (auto err = doc.get_array().get(events)) locate_batch_error(begin, end, first_index, err);
  std::uint64_t k = 0;
  try {
    for (auto element : events) {
      ondemand::value v;
      if (auto err = element.get(v))
        fail(where(), first_index + k, std::string("expected valid JSON: ") + json_error_text(err));
      ondemand::object event;
      if (v.get_object().get(event)) fail(where(), first_index + k, "expected an event object");
      h.on_event(event, first_index + k);
      ++k;
    }
  } catch (const ValueProblem& p) {
    fail(where(), first_index + k, p.what());
  }
  if (k != count) fail(end, first_index + k, "expected " + std::to_string(count - k) + " more events in this part of the file");
}

void TraceJsonStream::locate_batch_error(std::uint64_t begin, std::uint64_t end, std::uint64_t first_index,
                                         simdjson::error_code batch_error) {
  // The batch failed as a whole (invalid UTF-8, a control character in a string, ...): parse its
  // events one by one to name the one at fault.
  std::uint64_t p = begin;
  for (std::uint64_t i = 0; p < end; ++i) {
    while (p < end && (is_json_space(data_[p - base_]) || data_[p - base_] == ',')) ++p;
    if (p >= end) break;
    ValueScanner scanner;
    scanner.start(data_[p - base_], p);
    std::uint64_t e = p;
    scanner.scan(data_, base_, e, end, true);
    std::string one = "[";
    one.append(data_ + (p - base_), static_cast<std::size_t>(e - p));
    one += ']';
    simdjson::padded_string padded(one);
    ondemand::document doc;
    auto err = value_parser_.iterate(padded).get(doc);
    if (!err) {
      ondemand::array arr;
      err = doc.get_array().get(arr);
      if (!err) {
        for (auto element : arr) {
          ondemand::object o;
          err = element.get_object().get(o);
          if (!err) {
            for (auto field : o) {
              if ((err = field.error())) break;
            }
          }
        }
      }
    }
    if (err) fail(p, first_index + i, std::string("expected valid JSON: ") + json_error_text(err));
    p = e;
  }
  fail(begin, first_index, std::string("expected valid JSON: ") + json_error_text(batch_error));
}

}  // namespace codeprof::io::trace
