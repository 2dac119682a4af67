#pragma once
// Word tokenizer: maximal runs of ASCII letters and digits, lower-cased. Two implementations of the
// same function: the fast one (a byte-class table, one pass, no allocation per token) and the slow
// per-character loop that `--plant slow-tokenizer` selects (a locale and a string per character,
// the way naive code is often written). Both yield identical tokens.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seo {

// Tokens stored back to back in one buffer.
class TokenList {
 public:
  void clear() noexcept {
    buffer_.clear();
    spans_.clear();
  }
  void add(std::string_view token) {
    spans_.emplace_back(static_cast<std::uint32_t>(buffer_.size()), static_cast<std::uint32_t>(token.size()));
    buffer_ += token;
  }
  std::size_t size() const noexcept { return spans_.size(); }
  std::string_view operator[](std::size_t i) const noexcept {
    return std::string_view(buffer_).substr(spans_[i].first, spans_[i].second);
  }
  // Used by the fast tokenizer: it writes lower-cased bytes itself.
  std::string& buffer() noexcept { return buffer_; }
  std::vector<std::pair<std::uint32_t, std::uint32_t>>& spans() noexcept { return spans_; }

 private:
  std::string buffer_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> spans_;
};

enum class TokenizerKind { Fast, SlowPerCharacter };

void tokenize_fast(std::string_view text, TokenList& out);
void tokenize_slow(std::string_view text, TokenList& out);

inline void tokenize(TokenizerKind kind, std::string_view text, TokenList& out) {
  if (kind == TokenizerKind::Fast) {
    tokenize_fast(text, out);
  } else {
    tokenize_slow(text, out);
  }
}

}  // namespace seo
