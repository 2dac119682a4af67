#include "tokenizer.hpp"

#include <array>
#include <locale>

namespace seo {
namespace {

// 0: separator; otherwise the lower-cased byte.
constexpr std::array<char, 256> make_table() {
  std::array<char, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<char>(c);
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<char>(c);
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<char>(c - 'A' + 'a');
  return t;
}
constexpr std::array<char, 256> kTable = make_table();

}  // namespace

void tokenize_fast(std::string_view text, TokenList& out) {
  out.clear();
  std::string& buffer = out.buffer();
  auto& spans = out.spans();
  buffer.reserve(text.size());
  spans.reserve(text.size() / 5);
  std::uint32_t start = 0;
  bool in_token = false;
  for (const char raw : text) {
    const char c = kTable[static_cast<unsigned char>(raw)];
    if (c) {
      if (!in_token) {
        start = static_cast<std::uint32_t>(buffer.size());
        in_token = true;
      }
      buffer += c;
    } else if (in_token) {
      spans.emplace_back(start, static_cast<std::uint32_t>(buffer.size()) - start);
      in_token = false;
    }
  }
  if (in_token) spans.emplace_back(start, static_cast<std::uint32_t>(buffer.size()) - start);
}

// Deliberately naive: what `--plant slow-tokenizer` measures. Every character is copied into its
// own string and classified through a freshly constructed locale; tokens grow by concatenation.
void tokenize_slow(std::string_view text, TokenList& out) {
  out.clear();
  std::string current;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::string ch(text.substr(i, 1));
    const std::locale locale;  // the global ("C") locale: ASCII classification, as the fast table
    const bool ascii = static_cast<unsigned char>(ch[0]) < 128;
    if (ascii && std::isalnum(ch[0], locale)) {
      current = current + std::tolower(ch[0], locale);
    } else if (!current.empty()) {
      out.add(current);
      current = "";
    }
  }
  if (!current.empty()) out.add(current);
}

}  // namespace seo
