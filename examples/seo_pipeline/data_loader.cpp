#include "data_loader.hpp"

#include <algorithm>

#include <codeprof/codeprof.hpp>

#include "rng.hpp"

namespace seo {

using codeprof::Category;

Batch collate(std::size_t index, std::vector<Example>&& examples) {
  Batch b;
  b.index = index;
  b.size = examples.size();
  for (const auto& e : examples) b.length = std::max(b.length, e.tokens.size());
  b.tokens.assign(b.size * b.length, Vocabulary::kPad);
  b.features.resize(b.size * kFeatureCount);
  b.targets.reserve(b.size);
  b.ids.reserve(b.size);
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const Example& e = examples[i];
    std::copy(e.tokens.begin(), e.tokens.end(), b.tokens.begin() + static_cast<std::ptrdiff_t>(i * b.length));
    std::copy(e.features.begin(), e.features.end(), b.features.begin() + static_cast<std::ptrdiff_t>(i * kFeatureCount));
    b.targets.push_back(e.score);
    b.ids.push_back(e.id);
  }
  return b;
}

std::vector<std::size_t> epoch_order(const std::vector<std::size_t>& pages, std::uint64_t seed, std::size_t epoch) {
  std::vector<std::size_t> order = pages;
  Rng rng(mix_seed(seed, 0x5EED0000ull + epoch));
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.between(0, i - 1)]);
  return order;
}

DataLoader::DataLoader(const PageDataset& dataset, std::vector<std::size_t> order, LoaderOptions options,
                       codeprof::Profiler& profiler)
    : dataset_(&dataset), order_(std::move(order)), options_(options), profiler_(&profiler) {
  options_.batch_size = std::max<std::size_t>(options_.batch_size, 1);
  batches_ = (order_.size() + options_.batch_size - 1) / options_.batch_size;
  for (std::size_t w = 0; w < options_.workers; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

Batch DataLoader::build(std::size_t batch_index) const {
  codeprof::Profiler& profiler = *profiler_;
  CODEPROF_SCOPE(profiler, "load_batch", Category::DataLoading);
  const std::size_t begin = batch_index * options_.batch_size;
  const std::size_t end = std::min(begin + options_.batch_size, order_.size());
  std::vector<Example> examples;
  examples.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) examples.push_back(dataset_->get(order_[i]));
  CODEPROF_SCOPE(profiler, "pad_batch", Category::Preprocessing);
  return collate(batch_index, std::move(examples));
}

void DataLoader::worker_loop(std::size_t worker) {
  profiler_->set_thread_name("loader-worker-" + std::to_string(worker));
  for (;;) {
    std::size_t k = 0;
    {
      std::unique_lock lock(mutex_);
      // A batch may start once it is within `prefetch` batches of what has been asked for.
      work_cv_.wait(lock, [&] {
        return stopping_ || error_ || next_to_start_ >= batches_ || next_to_start_ < requested_ + options_.prefetch;
      });
      if (stopping_ || error_ || next_to_start_ >= batches_) return;
      k = next_to_start_++;
    }
    try {
      Batch b = build(k);
      std::lock_guard lock(mutex_);
      ready_.emplace(k, std::move(b));
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    ready_cv_.notify_all();
    work_cv_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  if (next_to_deliver_ >= batches_) return std::nullopt;
  if (threads_.empty()) return build(next_to_deliver_++);
  codeprof::Profiler& profiler = *profiler_;
  std::unique_lock lock(mutex_);
  requested_ = next_to_deliver_ + 1;
  work_cv_.notify_all();
  const auto it = ready_.find(next_to_deliver_);
  if (it == ready_.end() && !error_) {
    CODEPROF_SCOPE(profiler, "wait_for_batch", Category::DataLoading);
    ready_cv_.wait(lock, [&] { return error_ || ready_.count(next_to_deliver_) > 0; });
  }
  if (error_) std::rethrow_exception(error_);
  auto node = ready_.extract(next_to_deliver_);
  ++next_to_deliver_;
  lock.unlock();
  work_cv_.notify_all();
  return std::move(node.mapped());
}

}  // namespace seo
