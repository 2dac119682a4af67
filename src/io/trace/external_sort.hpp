#pragma once
// Sorts fixed-size records with bounded memory: records collect in a buffer; a full buffer is
// sorted and written as a run to an unlinked temporary file; drain() merges the runs (k-way,
// one block per run in memory). Small inputs never touch the disk.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <queue>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace codeprof::io::trace {

// An anonymous temporary file (created with mkstemp, unlinked at once).
class TempFile {
 public:
  explicit TempFile(const std::string& directory);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  void append(const void* data, std::size_t bytes);          // at the end
  void read_at(std::uint64_t offset, void* data, std::size_t bytes) const;
  std::uint64_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

template <class T, class Less>
class ExternalSorter {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  ExternalSorter(std::size_t max_in_memory, std::string temp_directory, Less less = {})
      : max_(std::max<std::size_t>(max_in_memory, 1024)), dir_(std::move(temp_directory)), less_(less) {}

  void push(const T& record) {
    if (buffer_.size() == max_) spill();
    buffer_.push_back(record);
    ++size_;
  }
  std::uint64_t size() const noexcept { return size_; }
  std::size_t runs() const noexcept { return runs_.size(); }

  // Calls f(record) for every record in order, then leaves the sorter empty.
  template <class F>
  void drain(F&& f) {
    std::sort(buffer_.begin(), buffer_.end(), less_);
    if (runs_.empty()) {
      for (const T& r : buffer_) f(r);
    } else {
      merge(std::forward<F>(f));
    }
    std::vector<T>().swap(buffer_);
    runs_.clear();
    size_ = 0;
  }

 private:
  static constexpr std::size_t kBlock = 4096;  // records read per run at a time

  struct Run {
    std::uint64_t offset;  // in bytes
    std::uint64_t count;
  };
  struct Cursor {
    std::vector<T> block;
    std::size_t at = 0;
    std::uint64_t next = 0;  // next record of the run to read
    Run run{};
    bool in_memory = false;
  };

  void spill() {
    std::sort(buffer_.begin(), buffer_.end(), less_);
    if (!file_) file_ = std::make_unique<TempFile>(dir_);
    runs_.push_back({file_->size(), buffer_.size()});
    file_->append(buffer_.data(), buffer_.size() * sizeof(T));
    buffer_.clear();
  }

  bool load(Cursor& c) {
    if (c.in_memory) return c.at < c.block.size();
    if (c.at < c.block.size()) return true;
    if (c.next >= c.run.count) return false;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, c.run.count - c.next));
    c.block.resize(n);
    file_->read_at(c.run.offset + c.next * sizeof(T), c.block.data(), n * sizeof(T));
    c.next += n;
    c.at = 0;
    return true;
  }

  template <class F>
  void merge(F&& f) {
    std::vector<Cursor> cursors(runs_.size() + 1);
    for (std::size_t i = 0; i < runs_.size(); ++i) cursors[i].run = runs_[i];
    cursors.back().in_memory = true;
    cursors.back().block.swap(buffer_);  // the last, unspilled part
    auto later = [&](std::size_t a, std::size_t b) {
      return less_(cursors[b].block[cursors[b].at], cursors[a].block[cursors[a].at]);
    };
    std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(later)> heap(later);
    for (std::size_t i = 0; i < cursors.size(); ++i)
      if (load(cursors[i])) heap.push(i);
    while (!heap.empty()) {
      const std::size_t i = heap.top();
      heap.pop();
      Cursor& c = cursors[i];
      f(c.block[c.at]);
      ++c.at;
      if (load(c)) heap.push(i);
    }
  }

  std::size_t max_;
  std::string dir_;
  Less less_;
  std::vector<T> buffer_;
  std::vector<Run> runs_;
  std::unique_ptr<TempFile> file_;
  std::uint64_t size_ = 0;
};

}  // namespace codeprof::io::trace
