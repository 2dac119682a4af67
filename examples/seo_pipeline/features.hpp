#pragma once
// Dense SEO features of a page, scaled to roughly [0, 1]: what the model sees besides the words.
#include <array>

#include "html.hpp"
#include "tokenizer.hpp"

namespace seo {

inline constexpr std::size_t kFeatureCount = 12;
using Features = std::array<float, kFeatureCount>;

// `tokens` are the page's tokens (title, headings and body text).
Features extract_features(const ParsedPage& page, const TokenList& tokens);

}  // namespace seo
