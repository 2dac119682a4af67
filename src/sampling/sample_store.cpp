#include "sampling/sample_store.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

#include "sampling/alloc_sites.hpp"
#include "sampling/hot_spots.hpp"

namespace codeprof::sampling {
namespace {

void append_u32(std::string& key, std::uint32_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); }

// Frames, a separator that no frame id takes, operations, thread.
std::string stack_key(std::span<const std::uint32_t> frames, std::span<const std::uint32_t> ops, std::uint64_t thread) {
  std::string key;
  key.reserve((frames.size() + ops.size() + 3) * 4);
  for (auto f : frames) append_u32(key, f);
  append_u32(key, 0xFFFFFFFFu);
  for (auto o : ops) append_u32(key, o);
  key.append(reinterpret_cast<const char*>(&thread), sizeof thread);
  return key;
}

}  // namespace

std::size_t SampleStore::FrameKeyHash::operator()(const ProfileFrame& f) const noexcept {
  std::size_t h = std::hash<std::string>{}(f.function);
  h = h * 31 + std::hash<std::string>{}(f.file);
  h = h * 31 + f.line;
  h = h * 31 + std::hash<std::string>{}(f.module);
  return h * 2 + (f.inlined ? 1 : 0);
}

SampleStore::SampleStore(std::uint32_t max_stacks) : max_stacks_(max_stacks) {}

SampleStore::Source& SampleStore::source(std::string_view name) {
  for (Source& s : sources_)
    if (s.name == name) return s;
  Source src;
  src.name = std::string(name);
  sources_.push_back(std::move(src));
  return sources_.back();
}

void SampleStore::note_thread(std::vector<std::uint64_t>& threads, std::uint64_t tid) {
  const auto it = std::lower_bound(threads.begin(), threads.end(), tid);
  if (it == threads.end() || *it != tid) threads.insert(it, tid);
}

std::uint32_t SampleStore::Writer::intern(const ProfileFrame& frame) {
  auto& s = store_;
  const auto it = s.frame_ids_.find(frame);
  if (it != s.frame_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(s.frames_.size());
  s.frames_.push_back(frame);
  s.frame_ids_.emplace(frame, id);
  return id;
}

std::optional<std::uint32_t> SampleStore::stack_index(std::span<const std::uint32_t> frames,
                                                      std::span<const std::uint32_t> operations, std::uint64_t thread) {
  std::string key = stack_key(frames, operations, thread);
  auto it = stack_ids_.find(key);
  if (it != stack_ids_.end()) return it->second;
  if (stacks_.size() >= max_stacks_) return std::nullopt;
  ProfileStack st;
  st.frames.assign(frames.begin(), frames.end());
  st.operations.assign(operations.begin(), operations.end());
  st.thread = thread;
  const auto id = static_cast<std::uint32_t>(stacks_.size());
  stack_ids_.emplace(std::move(key), id);
  stacks_.push_back(std::move(st));
  return id;
}

bool SampleStore::Writer::add_cpu(std::string_view source, std::span<const std::uint32_t> frames,
                                  std::span<const std::uint32_t> operations, std::uint64_t thread, std::uint64_t count) {
  auto& s = store_;
  Source& src = s.source(source);
  note_thread(src.threads, thread);
  const auto id = s.stack_index(frames, operations, thread);
  if (!id) {
    src.dropped += count;
    return false;
  }
  s.stacks_[*id].cpu_samples += count;
  src.samples += count;
  return true;
}

void SampleStore::Writer::clear_alloc() {
  for (ProfileStack& st : store_.stacks_)
    st.alloc_samples = st.alloc_bytes = st.live_bytes = st.alloc_objects = st.live_objects = 0;
}

bool SampleStore::Writer::add_alloc(std::span<const std::uint32_t> frames, std::span<const std::uint32_t> operations,
                                    std::uint64_t thread, const AllocCounts& counts) {
  const auto id = store_.stack_index(frames, operations, thread);
  if (!id) return false;
  ProfileStack& st = store_.stacks_[*id];
  st.alloc_samples += counts.samples;
  st.alloc_bytes += counts.bytes;
  st.live_bytes += counts.live_bytes;
  st.alloc_objects += counts.objects;
  st.live_objects += counts.live_objects;
  return true;
}

void SampleStore::Writer::add_dropped(std::string_view source, std::uint64_t count) { store_.source(source).dropped += count; }

void SampleStore::Writer::note_source(std::string_view source, double frequency_hz) {
  store_.source(source).frequency_hz = frequency_hz;
}

void SampleStore::Writer::note_inherited_thread(std::string_view source, std::uint64_t thread) {
  note_thread(store_.source(source).inherited_threads, thread);
}

void SampleStore::add_external(const SampleBatch& batch) {
  Writer w = writer();
  w.note_source(batch.mechanism, batch.frequency_hz);
  w.add_dropped(batch.mechanism, batch.dropped);
  std::vector<std::uint32_t> frames;
  for (const ExternalSample& sample : batch.samples) {
    if (sample.count == 0) continue;
    frames.clear();
    for (const SampledFrame& f : sample.frames)
      frames.push_back(w.intern({f.function, f.file, f.line, f.module.empty() ? batch.mechanism : f.module, false}));
    w.add_cpu(batch.mechanism, frames, sample.operations, sample.os_tid, sample.count);
  }
}

void SampleStore::fill(Snapshot& s, const std::vector<SiteInfo>& sites) const {
  std::lock_guard lock(mutex_);
  SampleProfile& p = s.profile;
  p = {};
  // Only the frames the current stacks use, renumbered in order of first use.
  std::vector<std::uint32_t> remap(frames_.size(), 0xFFFFFFFFu);
  std::vector<std::uint32_t> op_ids;
  for (const ProfileStack& st : stacks_) {
    ProfileStack out = st;
    for (auto& f : out.frames) {
      if (remap[f] == 0xFFFFFFFFu) {
        remap[f] = static_cast<std::uint32_t>(p.frames.size());
        p.frames.push_back(frames_[f]);
      }
      f = remap[f];
    }
    op_ids.insert(op_ids.end(), st.operations.begin(), st.operations.end());
    p.stacks.push_back(std::move(out));
  }
  std::sort(op_ids.begin(), op_ids.end());
  op_ids.erase(std::unique(op_ids.begin(), op_ids.end()), op_ids.end());
  for (const std::uint32_t id : op_ids) {
    if (id < sites.size()) p.operations.push_back({id, sites[id].name, sites[id].category});
    else p.operations.push_back({id, std::string("operation#").append(std::to_string(id)), Category::Custom});
  }

  s.sampling.sources.clear();
  s.sampling.samples = s.sampling.dropped = 0;
  for (const Source& src : sources_) {
    s.sampling.sources.push_back(
        {src.name, src.frequency_hz, src.threads.size(), src.samples, src.dropped, src.inherited_threads.size()});
    s.sampling.samples += src.samples;
    s.sampling.dropped += src.dropped;
  }
  attribute_hot_spots(s);
  attribute_allocations(s);
}

void SampleStore::reset() {
  std::lock_guard lock(mutex_);
  stacks_.clear();
  stack_ids_.clear();
  for (Source& src : sources_) {
    src.samples = src.dropped = 0;
    src.threads.clear();
    src.inherited_threads.clear();
  }
}

}  // namespace codeprof::sampling
