#include "io/trace/json_scanner.hpp"

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace codeprof::io::trace {
namespace {

enum : std::uint8_t { kPlain = 0, kQuote = 1, kOpen = 2, kClose = 3 };

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  t['"'] = kQuote;
  t['{'] = kOpen;
  t['['] = kOpen;
  t['}'] = kClose;
  t[']'] = kClose;
  return t;
}
constexpr std::array<std::uint8_t, 256> kClasses = make_classes();

bool ends_scalar(char c) noexcept { return is_json_space(c) || c == ',' || c == ']' || c == '}' || c == ':'; }

// Finds the closing quote of a string whose content continues at p[i]. Returns its index, or n
// when the data ends first. A quote preceded by an odd run of backslashes is escaped; the run is
// counted backwards, which stays inside the string because its opening quote is still in memory.
std::size_t find_string_end(const char* p, std::size_t i, std::size_t n) noexcept {
  while (i < n) {
    const void* q = std::memchr(p + i, '"', n - i);
    if (!q) return n;
    const std::size_t j = static_cast<std::size_t>(static_cast<const char*>(q) - p);
    std::size_t k = j;
    while (p[k - 1] == '\\') --k;  // p[begin] is the opening quote, so this stops
    if (((j - k) & 1u) == 0) return j;
    i = j + 1;
  }
  return n;
}

}  // namespace

void ValueScanner::start(char first, std::uint64_t begin) noexcept {
  begin_ = begin;
  depth_ = 0;
  in_string_ = false;
  if (first == '{' || first == '[') {
    kind_ = Kind::Container;
  } else if (first == '"') {
    kind_ = Kind::String;
  } else {
    kind_ = Kind::Scalar;
  }
}

bool ValueScanner::scan(const char* data, std::uint64_t base, std::uint64_t& pos, std::uint64_t end,
                        bool at_eof) noexcept {
  // Work on a pointer relative to `base` so that the look-back in find_string_end is in range.
  const char* p = data;
  std::size_t i = static_cast<std::size_t>(pos - base);
  const std::size_t n = static_cast<std::size_t>(end - base);

  if (kind_ == Kind::Scalar) {
    while (i < n && !ends_scalar(p[i])) ++i;
    pos = base + i;
    return i < n || at_eof;
  }
  if (kind_ == Kind::String) {
    if (!in_string_ && pos == begin_) {
      ++i;  // the opening quote
      in_string_ = true;
    }
    const std::size_t j = find_string_end(p, i, n);
    if (j == n) {
      pos = base + n;
      return false;
    }
    pos = base + j + 1;
    in_string_ = false;
    return true;
  }
#if defined(__SSE2__)
  // 16 bytes at a time: a bit mask of the bytes that matter (quotes and brackets); brackets
  // inside strings are skipped by tracking quotes, escaped quotes by counting backslashes.
  while (i + 16 <= n) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i interesting =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, _mm_set1_epi8('"')),
                                  _mm_cmpeq_epi8(_mm_or_si128(block, _mm_set1_epi8(0x20)), _mm_set1_epi8('{'))),
                     _mm_cmpeq_epi8(_mm_or_si128(block, _mm_set1_epi8(0x20)), _mm_set1_epi8('}')));
    // '[' | 0x20 == '{' and ']' | 0x20 == '}': one compare covers both kinds of bracket.
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(interesting));
    while (mask) {
      const std::size_t j = i + static_cast<std::size_t>(__builtin_ctz(mask));
      mask &= mask - 1;
      const char c = p[j];
      if (c == '"') {
        if (in_string_) {
          std::size_t k = j;
          while (p[k - 1] == '\\') --k;
          if (((j - k) & 1u) == 0) in_string_ = false;
        } else {
          in_string_ = true;
        }
      } else if (!in_string_) {
        if (c == '{' || c == '[') {
          if (++depth_ > kMaxJsonDepth) {
            pos = base + j;
            return true;
          }
        } else if (--depth_ == 0) {
          pos = base + j + 1;
          return true;
        }
      }
    }
    i += 16;
  }
#endif
  while (i < n) {
    if (in_string_) {
      const std::size_t j = find_string_end(p, i, n);
      if (j == n) {
        i = n;
        break;
      }
      in_string_ = false;
      i = j + 1;
      continue;
    }
    switch (kClasses[static_cast<unsigned char>(p[i])]) {
      case kPlain:
        break;
      case kQuote:
        in_string_ = true;
        break;
      case kOpen:
        if (++depth_ > kMaxJsonDepth) {
          pos = base + i;
          return true;
        }
        break;
      default:  // kClose
        if (--depth_ == 0) {
          pos = base + i + 1;
          return true;
        }
        break;
    }
    ++i;
  }
  pos = base + i;
  return false;
}

std::uint64_t ArrayScanner::keep_from() const noexcept {
  if (batch_count_) return batch_begin_;
  if (state_ == State::InElement) return value_.begin();
  return pos_;
}

ArrayScanner::Status ArrayScanner::fail(std::uint64_t at, std::string what) noexcept {
  error_offset_ = at;
  error_ = std::move(what);
  return Status::Error;
}

ArrayScanner::Status ArrayScanner::scan(const char* data, std::uint64_t base, std::uint64_t end, bool at_eof) noexcept {
  while (pos_ < end) {
    if (state_ == State::InElement) {
      if (!value_.scan(data, base, pos_, end, at_eof)) return Status::NeedMore;
      if (value_.too_deep())
        return fail(pos_, "expected JSON nested at most " + std::to_string(kMaxJsonDepth) + " levels deep");
      if (batch_count_ == 0) batch_begin_ = value_.begin();
      batch_end_ = pos_;
      ++batch_count_;
      ++elements_;
      state_ = State::ExpectSeparator;
      continue;
    }
    const char c = data[pos_ - base];
    if (is_json_space(c)) {
      ++pos_;
      continue;
    }
    switch (state_) {
      case State::ExpectFirst:
      case State::ExpectValue:
        if (c == ']') {
          if (state_ == State::ExpectValue) return fail(pos_, "expected an event after ',', found ']'");
          closed_at_ = pos_++;
          state_ = State::Done;
          return Status::Closed;
        }
        if (c == ',') return fail(pos_, "expected an event object, found ','");
        value_.start(c, pos_);
        state_ = State::InElement;
        break;
      case State::ExpectSeparator:
        if (c == ',') {
          ++pos_;
          state_ = State::ExpectValue;
        } else if (c == ']') {
          closed_at_ = pos_++;
          state_ = State::Done;
          return Status::Closed;
        } else {
          return fail(pos_, std::string("expected ',' or ']' after an event, found '") + c + "'");
        }
        break;
      case State::InElement:
      case State::Done:
        return Status::Closed;
    }
  }
  return Status::NeedMore;
}

}  // namespace codeprof::io::trace
