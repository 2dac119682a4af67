#pragma once
// Token -> id mapping built from the training pages: the most frequent tokens, ties broken
// alphabetically so the same corpus always gives the same ids. Id 0 is padding, 1 unknown.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer.hpp"

namespace seo {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Vocabulary {
 public:
  static constexpr std::int64_t kPad = 0;
  static constexpr std::int64_t kUnknown = 1;

  class Builder {
   public:
    void add(const TokenList& tokens);
    // Keeps at most `max_size` entries (including padding and unknown).
    Vocabulary build(std::size_t max_size) const;

   private:
    std::unordered_map<std::string, std::uint64_t, StringHash, std::equal_to<>> counts_;
  };

  std::size_t size() const noexcept { return tokens_.size(); }
  std::int64_t id(std::string_view token) const noexcept {
    const auto it = ids_.find(token);
    return it == ids_.end() ? kUnknown : it->second;
  }
  const std::string& token(std::int64_t id) const { return tokens_.at(static_cast<std::size_t>(id)); }
  // Appends at most `max_tokens` ids (0 = no limit).
  void encode(const TokenList& tokens, std::vector<std::int64_t>& out, std::size_t max_tokens) const;

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int64_t, StringHash, std::equal_to<>> ids_;
};

}  // namespace seo
