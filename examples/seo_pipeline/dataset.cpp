#include "dataset.hpp"

#include <algorithm>

#include <codeprof/codeprof.hpp>

#include "html.hpp"

namespace seo {

using codeprof::Category;

PageDataset::PageDataset(const CorpusIndex& index, const CorpusStore& store, const Vocabulary& vocabulary,
                         DatasetOptions options, codeprof::Profiler& profiler)
    : index_(&index), store_(&store), vocabulary_(&vocabulary), options_(options), profiler_(&profiler) {
  if (options_.cache_examples) {
    prepared_ = std::make_unique<std::once_flag[]>(index.pages.size());
    cache_.resize(index.pages.size());
  }
}

Example PageDataset::get(std::size_t page) const {
  if (!options_.cache_examples) return prepare(page);
  std::call_once(prepared_[page], [&] { cache_[page] = prepare(page); });
  return cache_[page];
}

Example PageDataset::prepare(std::size_t page) const {
  codeprof::Profiler& profiler = *profiler_;
  Example ex;
  ex.id = index_->pages[page].id;
  ex.score = index_->pages[page].score;
  const std::string_view html = store_->page(page);  // in memory: the corpus was read by CorpusStore
  ParsedPage parsed;
  {
    CODEPROF_SCOPE(profiler, "clean_html", Category::Preprocessing);
    parsed = parse_html(html);
  }
  thread_local TokenList tokens;
  {
    CODEPROF_SCOPE(profiler, "tokenize", Category::Preprocessing);
    tokenize(options_.tokenizer, parsed.text, tokens);
  }
  {
    CODEPROF_SCOPE(profiler, "encode_tokens", Category::Preprocessing);
    vocabulary_->encode(tokens, ex.tokens, options_.max_tokens);
    if (ex.tokens.empty()) ex.tokens.push_back(Vocabulary::kUnknown);  // every bag needs one entry
  }
  {
    CODEPROF_SCOPE(profiler, "extract_features", Category::Preprocessing);
    ex.features = extract_features(parsed, tokens);
  }
  return ex;
}

Vocabulary build_vocabulary(const CorpusStore& store, const std::vector<std::size_t>& pages, std::size_t sample,
                            std::size_t max_size, TokenizerKind tokenizer, codeprof::Profiler& profiler) {
  CODEPROF_SCOPE(profiler, "build_vocabulary", Category::Preprocessing);
  Vocabulary::Builder builder;
  TokenList tokens;
  const std::size_t n = std::min(sample, pages.size());
  for (std::size_t i = 0; i < n; ++i) {
    ParsedPage parsed;
    {
      CODEPROF_SCOPE(profiler, "clean_html", Category::Preprocessing);
      parsed = parse_html(store.page(pages[i]));
    }
    {
      CODEPROF_SCOPE(profiler, "tokenize", Category::Preprocessing);
      tokenize(tokenizer, parsed.text, tokens);
    }
    builder.add(tokens);
  }
  return builder.build(max_size);
}

}  // namespace seo
