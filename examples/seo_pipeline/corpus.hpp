#pragma once
// The synthetic web-page corpus: generated deterministically to disk on the first run, then read
// back. Each page carries the quality score the model learns (a hidden function of its SEO traits).
//
// On disk: <dir>/manifest.txt (what was generated), <dir>/index.tsv (one line per page: id, score,
// shard, offset, length) and <dir>/shard_NNNN.pages.z (the pages' HTML back to back, zlib-compressed
// behind a "SEOZ <bytes> <crc32>" header line).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace codeprof {
class Profiler;
}

namespace seo {

struct CorpusSpec {
  std::string dir;
  std::uint64_t target_bytes = 32ull << 20;  // stop generating once the shards hold this much
  std::uint64_t seed = 42;
  std::uint64_t shard_bytes = 4ull << 20;
};

struct PageRef {
  std::uint64_t id = 0;
  float score = 0.0f;
  std::uint32_t shard = 0;
  std::uint64_t offset = 0;  // byte offset of the page's HTML in its shard
  std::uint32_t length = 0;
};

struct CorpusIndex {
  std::string dir;
  std::vector<std::string> shard_paths;
  std::vector<PageRef> pages;
  std::uint64_t bytes = 0;
};

// One page of HTML and its quality score in [0, 1]; a pure function of (seed, id).
struct GeneratedPage {
  std::string html;
  float score = 0.0f;
};
GeneratedPage generate_page(std::uint64_t seed, std::uint64_t id);

// Generates the corpus unless `spec.dir` already holds one made from the same spec; returns its
// index. Generation writes into a temporary directory renamed into place, so concurrent runs and
// interrupted runs never leave a half-written corpus. Throws std::runtime_error on I/O failure.
CorpusIndex ensure_corpus(const CorpusSpec& spec, codeprof::Profiler& profiler, bool* generated = nullptr);

// The corpus held in memory: every shard read and decompressed once. Throws std::runtime_error
// naming the shard when one is corrupt.
class CorpusStore {
 public:
  CorpusStore(const CorpusIndex& index, codeprof::Profiler& profiler);
  std::string_view page(std::size_t i) const;
  std::uint64_t bytes() const noexcept { return bytes_; }

 private:
  const CorpusIndex* index_;
  std::vector<std::string> shards_;
  std::uint64_t bytes_ = 0;
};

}  // namespace seo
