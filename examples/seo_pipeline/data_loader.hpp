#pragma once
// A data loader in the style of torch.utils.data.DataLoader: batches of examples built by worker
// threads, delivered in order, with a bounded number of batches prepared ahead (prefetch).
// workers == 0 builds each batch on the caller's thread when it is asked for.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dataset.hpp"

namespace codeprof {
class Profiler;
}

namespace seo {

// A padded batch, row-major: tokens[b * length + t], features[b * kFeatureCount + f].
struct Batch {
  std::size_t index = 0;
  std::size_t size = 0;
  std::size_t length = 0;
  std::vector<std::int64_t> tokens;
  std::vector<float> features;
  std::vector<float> targets;
  std::vector<std::uint64_t> ids;
};

// Pads the examples to the longest one with Vocabulary::kPad.
Batch collate(std::size_t index, std::vector<Example>&& examples);

// `pages` shuffled deterministically for one epoch.
std::vector<std::size_t> epoch_order(const std::vector<std::size_t>& pages, std::uint64_t seed, std::size_t epoch);

struct LoaderOptions {
  std::size_t batch_size = 32;
  std::size_t workers = 2;
  std::size_t prefetch = 4;  // batches that may be prepared before they are asked for
};

class DataLoader {
 public:
  // `order`: the page indices of one epoch, in the order they are to be batched.
  DataLoader(const PageDataset& dataset, std::vector<std::size_t> order, LoaderOptions options,
             codeprof::Profiler& profiler);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  std::size_t batches() const noexcept { return batches_; }
  // The next batch, or nullopt after the last. Rethrows a worker's exception.
  std::optional<Batch> next();

 private:
  Batch build(std::size_t batch_index) const;
  void worker_loop(std::size_t worker);

  const PageDataset* dataset_;
  std::vector<std::size_t> order_;
  LoaderOptions options_;
  codeprof::Profiler* profiler_;
  std::size_t batches_ = 0;

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable ready_cv_;
  std::size_t next_to_start_ = 0;
  std::size_t next_to_deliver_ = 0;
  std::size_t requested_ = 0;  // batches asked for so far (including one being waited on)
  bool stopping_ = false;
  std::map<std::size_t, Batch> ready_;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace seo
