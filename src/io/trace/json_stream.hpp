#pragma once
// Streams a Chrome trace document through simdjson's On Demand parser without holding the file:
// the top level (an object with "traceEvents" and other keys, or a bare array of events) is
// walked with the structural scanner; the events are parsed in windows of complete events of a
// few megabytes, each window as one small document "[" + events + "]". Other top-level values are
// parsed one by one. Memory: one window plus the largest single event.
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "codeprof/trace_reader.hpp"
#include "io/trace/input.hpp"

namespace codeprof::io::trace {

namespace ondemand = simdjson::ondemand;

// Thrown by a handler for a problem in the event or value it is reading: the stream adds the
// file name, byte offset and event index. `what()` says what was expected.
class ValueProblem : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TraceStreamHandler {
 public:
  virtual ~TraceStreamHandler() = default;
  // Top-level keys other than traceEvents: the wanted ones are validated and passed on; the
  // others are only scanned past (structure checked, not parsed).
  virtual bool wants_top_level(std::string_view key) const = 0;
  virtual void on_top_level(std::string_view key, ondemand::value& value) = 0;
  virtual void on_event(ondemand::object& event, std::uint64_t index) = 0;
  virtual void on_bare_array() {}
};

class TraceJsonStream {
 public:
  TraceJsonStream(ByteSource& source, std::string name, const TraceReadOptions& options);
  ~TraceJsonStream();
  void run(TraceStreamHandler& handler);

  std::uint64_t events() const noexcept { return events_; }
  bool found_trace_events() const noexcept { return found_events_; }

 private:
  // Buffer: bytes [base_, base_ + len_) of the stream at data_[0, len_).
  bool fill();                          // reads more; false at the end of the data
  void compact(std::uint64_t keep_from);
  int peek_nonspace();                  // next non-space byte (consumed up to it), -1 at the end
  void expect(char c, const char* what);
  std::string read_key();
  std::uint64_t scan_value();           // from pos_; returns the value's end offset
  void top_level_value(TraceStreamHandler& h, const std::string& key);
  void stream_events(TraceStreamHandler& h);
  void parse_batch(TraceStreamHandler& h, std::uint64_t begin, std::uint64_t end, std::uint64_t count,
                   std::uint64_t first_index);
  void locate_batch_error(std::uint64_t begin, std::uint64_t end, std::uint64_t first_index,
                          simdjson::error_code stage1_error);
  void report_progress();
  [[noreturn]] void fail(std::uint64_t offset, std::uint64_t event_index, const std::string& what) const;
  std::uint64_t offset_of(const char* p) const noexcept {
    return base_ + static_cast<std::uint64_t>(p - data_);
  }

  ByteSource& source_;
  std::string name_;
  const TraceReadOptions& options_;
  std::unique_ptr<char[]> storage_;
  std::size_t capacity_ = 0;  // data bytes the storage holds (plus 2 + padding)
  char* data_ = nullptr;
  std::size_t len_ = 0;
  std::uint64_t base_ = 0;
  std::uint64_t pos_ = 0;  // absolute read position of the top-level walk
  bool eof_ = false;
  ondemand::parser events_parser_;
  ondemand::parser value_parser_;
  simdjson::dom::parser validator_;
  std::uint64_t events_ = 0;
  bool found_events_ = false;
  std::uint64_t last_progress_ = 0;
};

}  // namespace codeprof::io::trace
