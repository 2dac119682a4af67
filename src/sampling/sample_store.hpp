#pragma once
// The aggregate of symbolised samples: distinct frames, distinct (stack, open operations, thread)
// with their counts, and what each sampling mechanism took or lost. Native samples (after
// symbolisation) and samples handed in by other samplers (Profiler::add_samples) both end here,
// so they are counted the same way. Thread-safe: one mutex, taken once per batch.
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "codeprof/call_site.hpp"
#include "codeprof/samples.hpp"
#include "codeprof/snapshot.hpp"

namespace codeprof::sampling {

class SampleStore {
 public:
  explicit SampleStore(std::uint32_t max_stacks);

  // Holds the store's lock while one batch of samples is added.
  class Writer {
   public:
    // The id of a frame; equal frames get the same id (ids survive reset()).
    std::uint32_t intern(const ProfileFrame& frame);
    // Adds `count` CPU samples of one stack taken by `source`. False when the stack is new and the
    // table is full: the samples are counted as dropped instead.
    bool add_cpu(std::string_view source, std::span<const std::uint32_t> frames, std::span<const std::uint32_t> operations,
                 std::uint64_t thread, std::uint64_t count);
    // Sets every stack's alloc_* counts to zero (before add_alloc re-adds the current ones).
    void clear_alloc();
    // What the allocation samples of one stack stand for (estimates, see AllocSampler).
    struct AllocCounts {
      std::uint64_t samples = 0;       // sampled allocations
      std::uint64_t bytes = 0;         // bytes allocated
      std::uint64_t live_bytes = 0;    // of those, not freed yet
      std::uint64_t objects = 0;       // allocations made
      std::uint64_t live_objects = 0;  // of those, not freed yet
    };
    // Adds allocation samples of one stack. False when the stack is new and the table is full.
    bool add_alloc(std::span<const std::uint32_t> frames, std::span<const std::uint32_t> operations, std::uint64_t thread,
                   const AllocCounts& counts);
    // Samples `source` could not take or keep.
    void add_dropped(std::string_view source, std::uint64_t count);
    // Declares a mechanism that runs (shown even before its first sample).
    void note_source(std::string_view source, double frequency_hz);
    // A thread whose samples came through events it inherited (one per CPU).
    void note_inherited_thread(std::string_view source, std::uint64_t thread);

   private:
    friend class SampleStore;
    explicit Writer(SampleStore& store) : store_(store), lock_(store.mutex_) {}
    SampleStore& store_;
    std::unique_lock<std::mutex> lock_;
  };
  Writer writer() { return Writer(*this); }

  // Samples from another sampler, already symbolised (Profiler::add_samples).
  void add_external(const SampleBatch& batch);

  // Fills s.profile (operation names from `sites`), s.sampling's sources and totals, and each
  // operation's cpu_samples / hot_functions / hot_lines and allocation sites.
  void fill(Snapshot& s, const std::vector<SiteInfo>& sites) const;

  // Forgets every sample (frames stay interned).
  void reset();

 private:
  struct Source {
    std::string name;
    double frequency_hz = 0.0;
    std::uint64_t samples = 0;
    std::uint64_t dropped = 0;
    std::vector<std::uint64_t> threads;  // distinct OS thread ids, sorted
    std::vector<std::uint64_t> inherited_threads;  // of those, under inherited events; sorted
  };
  struct FrameKeyHash {
    std::size_t operator()(const ProfileFrame& f) const noexcept;
  };

  Source& source(std::string_view name);
  static void note_thread(std::vector<std::uint64_t>& threads, std::uint64_t tid);
  // The stack's index, created when new; nullopt when the table is full.
  std::optional<std::uint32_t> stack_index(std::span<const std::uint32_t> frames, std::span<const std::uint32_t> operations,
                                           std::uint64_t thread);

  const std::uint32_t max_stacks_;
  mutable std::mutex mutex_;
  std::vector<ProfileFrame> frames_;
  std::unordered_map<ProfileFrame, std::uint32_t, FrameKeyHash> frame_ids_;
  std::vector<ProfileStack> stacks_;
  std::unordered_map<std::string, std::uint32_t> stack_ids_;  // key: frames, operations, thread as bytes
  std::vector<Source> sources_;
};

}  // namespace codeprof::sampling
