#include "io/trace/input.hpp"
#include "io/trace/no_position.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "codeprof/trace_reader.hpp"

namespace codeprof::io::trace {
namespace {


class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw TraceReadError(path, kNo, kNo, std::string("expected a readable file: ") + std::strerror(errno));
    describe();
  }
  FileSource(int fd, const std::string& name) : path_(name), fd_(fd) { describe(); }
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

 private:
  // Size for progress display; refuses a directory (closing the descriptor: the destructor of a
  // constructor that throws does not run).
  void describe() {
    struct stat st {};
    if (::fstat(fd_, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        ::close(fd_);
        throw TraceReadError(path_, kNo, kNo, "expected a file, found a directory");
      }
      if (S_ISREG(st.st_mode)) total_ = static_cast<std::uint64_t>(st.st_size);  // pipes: unknown
    }
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }

 public:
  std::size_t read(char* dst, std::size_t n) override {
    for (;;) {
      const ssize_t got = ::read(fd_, dst, n);
      if (got >= 0) {
        consumed_ += static_cast<std::uint64_t>(got);
        return static_cast<std::size_t>(got);
      }
      if (errno == EINTR) continue;
      throw TraceReadError(path_, consumed_, kNo, std::string("expected readable data: ") + std::strerror(errno));
    }
  }
  std::uint64_t consumed() const noexcept override { return consumed_; }
  std::uint64_t total() const noexcept override { return total_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t consumed_ = 0;
  std::uint64_t total_ = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(char* dst, std::size_t n) override {
    const std::size_t k = std::min(n, bytes_.size() - pos_);
    if (k) std::memcpy(dst, bytes_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  std::uint64_t consumed() const noexcept override { return pos_; }
  std::uint64_t total() const noexcept override { return bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

// Inflates gzip members one after another (as gzip -d does); trailing zero bytes are ignored.
class GzipSource final : public ByteSource {
 public:
  GzipSource(std::unique_ptr<ByteSource> inner, std::string name)
      : inner_(std::move(inner)), name_(std::move(name)), in_(kInputChunk) {
    std::memset(&z_, 0, sizeof z_);
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK)
      throw TraceReadError(name_, kNo, kNo, "expected zlib to initialise (out of memory?)");
  }
  ~GzipSource() override { inflateEnd(&z_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  std::size_t read(char* dst, std::size_t n) override {
    if (done_ || n == 0) return 0;
    z_.next_out = reinterpret_cast<Bytef*>(dst);
    // zlib counts in uInt; large requests are served in pieces.
    z_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    const uInt requested = z_.avail_out;
    while (z_.avail_out > 0) {
      if (z_.avail_in == 0 && !refill()) {
        if (member_started_) fail("expected more gzip data, found the end of the file (truncated?)");
        done_ = true;
        break;
      }
      if (!member_started_) {
        // Between members: another member, or trailing zeros, or garbage.
        if (z_.next_in[0] == 0) {
          skip_trailing_zeros();
          continue;
        }
        member_started_ = true;
      }
      const int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_started_ = false;
        if (inflateReset(&z_) != Z_OK) fail("expected zlib to reset between gzip members");
        continue;
      }
      if (rc == Z_BUF_ERROR) continue;  // needs more input; refilled above
      if (rc != Z_OK) {
        fail(std::string("expected valid gzip data, found ") + (z_.msg ? z_.msg : zError(rc)));
      }
    }
    const std::size_t produced = requested - z_.avail_out;
    total_out_ += produced;
    return produced;
  }
  std::uint64_t consumed() const noexcept override { return inner_->consumed() - z_.avail_in; }
  std::uint64_t total() const noexcept override { return inner_->total(); }

 private:
  static constexpr std::size_t kInputChunk = 1u << 20;

  bool refill() {
    const std::size_t got = inner_->read(in_.data(), in_.size());
    z_.next_in = reinterpret_cast<Bytef*>(in_.data());
    z_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }
  void skip_trailing_zeros() {
    for (;;) {
      while (z_.avail_in && z_.next_in[0] == 0) {
        ++z_.next_in;
        --z_.avail_in;
      }
      if (z_.avail_in) fail("expected another gzip member or the end of the file, found other bytes after zero padding");
      if (!refill()) return;
    }
  }
  [[noreturn]] void fail(const std::string& what) {
    throw TraceReadError(name_, kNo, kNo, what + " at compressed byte " + std::to_string(consumed()));
  }

  std::unique_ptr<ByteSource> inner_;
  std::string name_;
  std::vector<char> in_;
  z_stream z_;
  bool member_started_ = false;
  bool done_ = false;
  std::uint64_t total_out_ = 0;
};

// Peeks the first two bytes of a source and wraps it in a GzipSource when they are gzip magic.
class PeekedSource final : public ByteSource {
 public:
  PeekedSource(std::unique_ptr<ByteSource> inner, std::string head) : inner_(std::move(inner)), head_(std::move(head)) {}
  std::size_t read(char* dst, std::size_t n) override {
    if (pos_ < head_.size()) {
      const std::size_t k = std::min(n, head_.size() - pos_);
      std::memcpy(dst, head_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    return inner_->read(dst, n);
  }
  std::uint64_t consumed() const noexcept override { return inner_->consumed() - (head_.size() - pos_); }
  std::uint64_t total() const noexcept override { return inner_->total(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::string head_;
  std::size_t pos_ = 0;
};

// Inflates on a second thread while the caller parses: decompression and parsing overlap, so a
// .json.gz reads about as fast as the slower of the two instead of their sum.
class ReadAheadSource final : public ByteSource {
 public:
  explicit ReadAheadSource(std::unique_ptr<ByteSource> inner) : inner_(std::move(inner)), total_(inner_->total()) {
    for (Chunk& c : chunks_) c.bytes.resize(kChunk);
    worker_ = std::thread([this] { produce(); });
  }
  ~ReadAheadSource() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }
  ReadAheadSource(const ReadAheadSource&) = delete;
  ReadAheadSource& operator=(const ReadAheadSource&) = delete;

  std::size_t read(char* dst, std::size_t n) override {
    std::size_t done = 0;
    while (done < n) {
      Chunk& c = chunks_[head_ % kChunks];
      if (!current_) {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return head_ < tail_ || finished_; });
        if (head_ == tail_) {  // the producer finished and everything was read
          if (error_) std::rethrow_exception(error_);
          break;
        }
        current_ = true;
      }
      const std::size_t k = std::min(n - done, c.size - at_);
      std::memcpy(dst + done, c.bytes.data() + at_, k);
      done += k;
      at_ += k;
      consumed_ = c.consumed;
      if (at_ == c.size) {
        at_ = 0;
        current_ = false;
        {
          std::lock_guard lock(mutex_);
          ++head_;
        }
        changed_.notify_all();
      }
    }
    return done;
  }
  std::uint64_t consumed() const noexcept override { return consumed_; }
  std::uint64_t total() const noexcept override { return total_; }

 private:
  static constexpr std::size_t kChunk = std::size_t{4} << 20;
  static constexpr std::size_t kChunks = 3;
  struct Chunk {
    std::vector<char> bytes;
    std::size_t size = 0;
    std::uint64_t consumed = 0;  // of the inner source when this chunk was filled
  };

  void produce() {
    try {
      for (;;) {
        std::size_t slot;
        {
          std::unique_lock lock(mutex_);
          changed_.wait(lock, [&] { return tail_ - head_ < kChunks || stop_; });
          if (stop_) return;
          slot = tail_ % kChunks;
        }
        Chunk& c = chunks_[slot];  // not visible to the reader until tail_ moves
        c.size = 0;
        while (c.size < kChunk) {
          const std::size_t got = inner_->read(c.bytes.data() + c.size, kChunk - c.size);
          if (got == 0) break;
          c.size += got;
        }
        c.consumed = inner_->consumed();
        std::lock_guard lock(mutex_);
        if (c.size == 0) {
          finished_ = true;
          changed_.notify_all();
          return;
        }
        ++tail_;
        changed_.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
      finished_ = true;
      changed_.notify_all();
    }
  }

  std::unique_ptr<ByteSource> inner_;
  const std::uint64_t total_;
  Chunk chunks_[kChunks];
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t head_ = 0, tail_ = 0;  // chunks read by the caller / filled by the worker
  bool finished_ = false, stop_ = false;
  std::exception_ptr error_;
  bool current_ = false;  // the caller holds chunk head_
  std::size_t at_ = 0;
  std::uint64_t consumed_ = 0;
  std::thread worker_;
};

std::unique_ptr<ByteSource> maybe_gunzip(std::unique_ptr<ByteSource> raw, const std::string& name) {
  std::string head(2, '\0');
  std::size_t got = 0;
  while (got < 2) {
    const std::size_t k = raw->read(head.data() + got, 2 - got);
    if (k == 0) break;
    got += k;
  }
  head.resize(got);
  const bool gz = is_gzip_magic(head);
  auto peeked = std::make_unique<PeekedSource>(std::move(raw), std::move(head));
  if (!gz) return peeked;
  auto gunzip = std::make_unique<GzipSource>(std::move(peeked), name);
  if (gunzip->total() < kReadAheadFrom) return gunzip;  // small: not worth a thread
  return std::make_unique<ReadAheadSource>(std::move(gunzip));
}

}  // namespace

std::unique_ptr<ByteSource> open_file_source(const std::string& path) {
  return maybe_gunzip(std::make_unique<FileSource>(path), path);
}

std::unique_ptr<ByteSource> open_descriptor_source(int fd, const std::string& name) {
  return maybe_gunzip(std::make_unique<FileSource>(fd, name), name);
}

std::unique_ptr<ByteSource> open_memory_source(std::string_view bytes, const std::string& name) {
  return maybe_gunzip(std::make_unique<MemorySource>(bytes), name);
}

std::string read_head(ByteSource& source, std::size_t n) {
  std::string head(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const std::size_t k = source.read(head.data() + got, n - got);
    if (k == 0) break;
    got += k;
  }
  head.resize(got);
  return head;
}

std::unique_ptr<ByteSource> with_head(std::string head, std::unique_ptr<ByteSource> rest) {
  return std::make_unique<PeekedSource>(std::move(rest), std::move(head));
}

}  // namespace codeprof::io::trace
