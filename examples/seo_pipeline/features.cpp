#include "features.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

namespace seo {
namespace {

bool is_stop_word(std::string_view w) {
  static constexpr std::string_view kStop[] = {"the", "and", "that", "this", "with", "from", "for", "are"};
  return std::find(std::begin(kStop), std::end(kStop), w) != std::end(kStop);
}

float clamp01(double v) { return static_cast<float>(std::clamp(v, 0.0, 1.0)); }

// Counts words in a small open-addressing table reused by the thread: a page has a few hundred
// distinct words, and a hash map allocating per word would cost more than the rest of the features.
class WordCounter {
 public:
  void clear() {
    for (std::uint32_t slot : used_) slots_[slot] = {};
    used_.clear();
  }
  int add(std::string_view word) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char c : word) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    for (std::uint32_t i = static_cast<std::uint32_t>(h) & kMask;; i = (i + 1) & kMask) {
      Slot& s = slots_[i];
      if (s.count == 0) {
        if (used_.size() * 2 >= kSlots) return 0;  // table half full: ignore further new words
        s.word = word;
        used_.push_back(i);
      } else if (s.word != word) {
        continue;
      }
      return ++s.count;
    }
  }

 private:
  static constexpr std::uint32_t kSlots = 4096, kMask = kSlots - 1;
  struct Slot {
    std::string_view word;
    int count = 0;
  };
  std::array<Slot, kSlots> slots_{};
  std::vector<std::uint32_t> used_;
};

}  // namespace

Features extract_features(const ParsedPage& page, const TokenList& tokens) {
  // The page's main keyword: its most frequent content word (ties: alphabetically first).
  thread_local WordCounter counter;
  counter.clear();
  std::string_view keyword;
  int keyword_count = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view t = tokens[i];
    if (t.size() < 4 || is_stop_word(t)) continue;
    const int count = counter.add(t);
    if (count > keyword_count || (count == keyword_count && t < keyword)) {
      keyword = t;
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
