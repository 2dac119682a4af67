#pragma once
// Finds where JSON values end without parsing them (strings and nesting only), so that the
// traceEvents array can be cut into windows of complete events and top-level values can be
// located. The parser (simdjson) then validates and reads each window. Positions are absolute
// offsets in the uncompressed stream; the caller keeps the bytes of the value being scanned in
// memory across calls (strings are scanned with a look-back over preceding backslashes).
#include <cstddef>
#include <cstdint>
#include <string>

namespace codeprof::io::trace {

inline bool is_json_space(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Deeper nesting is an error (simdjson's own limit is the same).
inline constexpr std::uint64_t kMaxJsonDepth = 1024;

// The extent of one JSON value (object, array, string or scalar).
class ValueScanner {
 public:
  // `first` is the value's first byte, at absolute offset `begin`.
  void start(char first, std::uint64_t begin) noexcept;
  // Scans bytes [pos, end) where data[x - base] is the byte at absolute offset x. Returns true
  // when the value ended (or nests deeper than kMaxJsonDepth: too_deep(), at `pos`); `pos` then
  // is just past it. Scalars end before a delimiter, so the end of the data ends them only when
  // `at_eof`.
  bool scan(const char* data, std::uint64_t base, std::uint64_t& pos, std::uint64_t end, bool at_eof) noexcept;
  std::uint64_t begin() const noexcept { return begin_; }
  bool too_deep() const noexcept { return depth_ > kMaxJsonDepth; }

 private:
  enum class Kind : std::uint8_t { Container, String, Scalar };
  Kind kind_ = Kind::Scalar;
  bool in_string_ = false;
  std::uint64_t depth_ = 0;
  std::uint64_t begin_ = 0;
};

// Walks the elements of one JSON array from just after its '['. Complete elements accumulate in
// a batch [batch_begin, batch_end) that the caller parses (as "[" + batch + "]") and then takes.
class ArrayScanner {
 public:
  explicit ArrayScanner(std::uint64_t after_open_bracket) noexcept : pos_(after_open_bracket) {}

  enum class Status : std::uint8_t { NeedMore, Closed, Error };
  // Scans [pos, end); stops at the closing ']' (Closed), at a structural error (Error) or at the
  // end of the data (NeedMore).
  Status scan(const char* data, std::uint64_t base, std::uint64_t end, bool at_eof) noexcept;

  std::uint64_t batch_count() const noexcept { return batch_count_; }
  std::uint64_t batch_begin() const noexcept { return batch_begin_; }
  std::uint64_t batch_end() const noexcept { return batch_end_; }
  void take_batch() noexcept { batch_count_ = 0; }
  // The first byte still needed: the batch, else the element being scanned, else the position.
  std::uint64_t keep_from() const noexcept;
  // Where the element being scanned began (valid while in_element()).
  bool in_element() const noexcept { return state_ == State::InElement; }
  std::uint64_t element_begin() const noexcept { return value_.begin(); }
  std::uint64_t position() const noexcept { return pos_; }
  std::uint64_t closed_at() const noexcept { return closed_at_; }  // offset of ']'
  std::uint64_t elements_seen() const noexcept { return elements_; }  // complete elements so far

  std::uint64_t error_offset() const noexcept { return error_offset_; }
  const std::string& error() const noexcept { return error_; }

 private:
  enum class State : std::uint8_t { ExpectFirst, ExpectValue, ExpectSeparator, InElement, Done };
  Status fail(std::uint64_t at, std::string what) noexcept;

  std::uint64_t pos_;
  State state_ = State::ExpectFirst;
  ValueScanner value_;
  std::uint64_t batch_begin_ = 0, batch_end_ = 0, batch_count_ = 0;
  std::uint64_t elements_ = 0;
  std::uint64_t closed_at_ = 0;
  std::uint64_t error_offset_ = 0;
  std::string error_;
};

}  // namespace codeprof::io::trace
