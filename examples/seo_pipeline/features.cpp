#include "features.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

namespace seo {
namespace {

bool is_stop_word(std::string_view w) {
  static constexpr std::string_view kStop[] = {"the", "and", "that", "this", "with", "from", "for", "are"};
  return std::find(std::begin(kStop), std::end(kStop), w) != std::end(kStop);
}

float clamp01(double v) { return static_cast<float>(std::clamp(v, 0.0, 1.0)); }

}  // namespace

Features extract_features(const ParsedPage& page, const TokenList& tokens) {
  // The page's main keyword: its most frequent content word.
  std::unordered_map<std::string_view, int> counts;
  counts.reserve(tokens.size() / 2);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view t = tokens[i];
    if (t.size() >= 4 && !is_stop_word(t)) ++counts[t];
  }
  std::string_view keyword;
  int keyword_count = 0;
  for (const auto& [word, count] : counts) {
    if (count > keyword_count || (count == keyword_count && word < keyword)) {
      keyword = word;
      keyword_count = count;
    }
  }
  TokenList title;
  tokenize_fast(page.title, title);
  bool title_has_keyword = false;
  for (std::size_t i = 0; i < title.size() && !keyword.empty(); ++i) title_has_keyword |= title[i] == keyword;
  TokenList description;
  tokenize_fast(page.description, description);

  const double words = static_cast<double>(tokens.size());
  Features f{};
  f[0] = clamp01(static_cast<double>(title.size()) / 14.0);
  f[1] = title_has_keyword ? 1.0f : 0.0f;
  f[2] = clamp01(static_cast<double>(description.size()) / 40.0);
  f[3] = description.size() > 0 ? 1.0f : 0.0f;
  f[4] = page.h1 == 1 ? 1.0f : 0.0f;
  f[5] = clamp01(page.h2 / 6.0);
  f[6] = clamp01(page.internal_links / 20.0);
  f[7] = clamp01(page.external_links / 10.0);
  f[8] = clamp01(page.broken_links / 5.0);
  f[9] = clamp01(std::log1p(words) / 7.0);
  f[10] = words > 0 ? clamp01(10.0 * keyword_count / words) : 0.0f;
  f[11] = page.images ? clamp01(static_cast<double>(page.images_without_alt) / page.images) : 0.0f;
  return f;
}

}  // namespace seo
