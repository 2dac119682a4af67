#include "vocabulary.hpp"

#include <algorithm>

namespace seo {

void Vocabulary::Builder::add(const TokenList& tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view t = tokens[i];
    const auto it = counts_.find(t);
    if (it != counts_.end()) {
      ++it->second;
    } else {
      counts_.emplace(std::string(t), 1);
    }
  }
}

Vocabulary Vocabulary::Builder::build(std::size_t max_size) const {
  std::vector<std::pair<const std::string*, std::uint64_t>> ranked;
  ranked.reserve(counts_.size());
  for (const auto& [token, count] : counts_) ranked.emplace_back(&token, count);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : *a.first < *b.first;
  });
  Vocabulary v;
  v.tokens_ = {"<pad>", "<unk>"};
  const std::size_t keep = max_size > 2 ? std::min(ranked.size(), max_size - 2) : 0;
  for (std::size_t i = 0; i < keep; ++i) v.tokens_.push_back(*ranked[i].first);
  v.ids_.reserve(v.tokens_.size());
  for (std::size_t i = 0; i < v.tokens_.size(); ++i) v.ids_.emplace(v.tokens_[i], static_cast<std::int64_t>(i));
  return v;
}

void Vocabulary::encode(const TokenList& tokens, std::vector<std::int64_t>& out, std::size_t max_tokens) const {
  const std::size_t n = max_tokens ? std::min(tokens.size(), max_tokens) : tokens.size();
  out.reserve(out.size() + n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(id(tokens[i]));
}

}  // namespace seo
