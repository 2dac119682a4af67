#pragma once
// The dataset: page index -> model-ready example (HTML clean-up, tokenisation, vocabulary lookup,
// feature extraction). Stateless per call, so loader workers may call get() concurrently.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "corpus.hpp"
#include "features.hpp"
#include "tokenizer.hpp"
#include "vocabulary.hpp"

namespace codeprof {
class Profiler;
}

namespace seo {

struct Example {
  std::uint64_t id = 0;
  float score = 0.0f;
  std::vector<std::int64_t> tokens;
  Features features{};
};

struct DatasetOptions {
  TokenizerKind tokenizer = TokenizerKind::Fast;
  std::size_t max_tokens = 256;  // tokens kept per page (the model reads the beginning)
  // Keep each example after its first preparation (for the validation and held-out pages, which
  // are read every epoch and never change).
  bool cache_examples = false;
};

class PageDataset {
 public:
  PageDataset(const CorpusIndex& index, const CorpusStore& store, const Vocabulary& vocabulary,
              DatasetOptions options, codeprof::Profiler& profiler);
  std::size_t size() const noexcept { return index_->pages.size(); }
  // Thread-safe; with cache_examples each page is prepared once.
  Example get(std::size_t page) const;
  float score(std::size_t page) const noexcept { return index_->pages[page].score; }

 private:
  const CorpusIndex* index_;
  const CorpusStore* store_;
  const Vocabulary* vocabulary_;
  Example prepare(std::size_t page) const;

  DatasetOptions options_;
  codeprof::Profiler* profiler_;
  std::unique_ptr<std::once_flag[]> prepared_;  // with cache_examples: one flag and slot per page
  mutable std::vector<Example> cache_;
};

// Builds the vocabulary from (at most `sample` of) the given pages.
Vocabulary build_vocabulary(const CorpusStore& store, const std::vector<std::size_t>& pages, std::size_t sample,
                            std::size_t max_size, TokenizerKind tokenizer, codeprof::Profiler& profiler);

}  // namespace seo
